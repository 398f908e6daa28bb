import type { ServiceImplementation } from '@vfs/proto/ttrpc';
import { lazyImplementation } from './lazy_service';

const codec = { encode: () => ({ finish: () => new Uint8Array() }), decode: () => ({}), fromPartial: () => ({}) };
const method = (name: string) =>
  ({ name, requestType: codec, requestStream: false, responseType: codec, responseStream: false }) as const;
const definition = { fullName: 't.T', methods: { ping: method('Ping'), work: method('Work') } } as const;
type Impl = ServiceImplementation<typeof definition>;

describe('lazyImplementation', () => {
  it('answers eager methods without loading, and loads the rest once, on first use', async () => {
    const load = jest.fn(async (): Promise<Omit<Impl, 'ping'>> => ({ work: async () => ({ done: true }) }));
    const impl = lazyImplementation(definition, { ping: async () => ({ pong: true }) }, load).implementation;
    await expect(impl.ping({}, {} as never)).resolves.toEqual({ pong: true });
    expect(load).not.toHaveBeenCalled();
    await expect(impl.work({}, {} as never)).resolves.toEqual({ done: true });
    await impl.work({}, {} as never);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('preload loads once, ahead of the first call, and a failed load is the error of that call', async () => {
    const load = jest.fn(async (): Promise<Omit<Impl, 'ping'>> => {
      throw new Error('cannot load the core');
    });
    const lazy = lazyImplementation(definition, { ping: async () => ({ pong: true }) }, load);
    lazy.preload();
    lazy.preload();
    expect(load).toHaveBeenCalledTimes(1);
    await expect(lazy.implementation.work({}, {} as never)).rejects.toThrow('cannot load the core');
    expect(load).toHaveBeenCalledTimes(1);
  });
});
