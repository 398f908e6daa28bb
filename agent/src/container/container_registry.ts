/**
 * The containers of this guest by id: what the agent's API calls resolve ids through, so an
 * unknown id is one typed NOT_FOUND error and a duplicate create one ALREADY_EXISTS.
 */
import { Container, checkId, type ContainerConfig, type RuntimeOptions } from './container';
import { ContainerError } from './errors';

export class ContainerRegistry {
  private readonly containers = new Map<string, Container>();
  /** Ids whose create is in flight, so a concurrent create of the same id fails at once. */
  private readonly creating = new Set<string>();

  constructor(private readonly options: RuntimeOptions) {}

  async create(config: ContainerConfig): Promise<Container> {
    checkId(config.id, 'container id');
    if (this.containers.has(config.id) || this.creating.has(config.id)) {
      throw new ContainerError('ALREADY_EXISTS', 'a container with this id already exists', { containerId: config.id });
    }
    this.creating.add(config.id);
    try {
      const container = await Container.create(config, this.options);
      this.containers.set(config.id, container);
      return container;
    } finally {
      this.creating.delete(config.id);
    }
  }

  get(id: string): Container {
    const container = this.containers.get(id);
    if (container === undefined) throw new ContainerError('NOT_FOUND', 'no such container', { containerId: id });
    return container;
  }

  async delete(id: string): Promise<void> {
    await this.get(id).delete();
    this.containers.delete(id);
  }

  ids(): string[] {
    return [...this.containers.keys()];
  }
}
