import { closeSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type VfsConfig } from '@vfs/runtime-config';
import { cloneTemplate } from './template_clone';
import { templateFingerprint } from './template_fingerprint';
import { newGeneration, ownTemplateDir, publishTemplate, templateFiles } from './template_store';

describe("a sandbox's copy of the VM template", () => {
  let dir: string;
  let runtimeDir: string;
  let config: VfsConfig;

  beforeEach(() => {
    dir = mkdtempSync('/dev/shm/vfs-template-clone-');
    runtimeDir = mkdtempSync(join(tmpdir(), 'vfs-template-runtime-'));
    config = { ...defaultConfig(), factory: { enable_template: true, template_path: join(dir, 'template') } };
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  /** Saves a template with `ram` at the start of its memory, as template create does. */
  function save(forConfig: VfsConfig, ram: string, accel: 'tcg' | 'kvm' = 'tcg'): string {
    const files = templateFiles(forConfig.factory.template_path);
    ownTemplateDir(files);
    const { generation, vm } = newGeneration(files);
    writeFileSync(vm.memory, ram);
    writeFileSync(vm.state, `state of ${ram}`);
    publishTemplate(files, {
      generation,
      fingerprint: templateFingerprint(forConfig, runtimeDir, accel),
      createdAt: 'now',
      memoryMiB: 512,
      memoryDataBytes: ram.length,
      stateBytes: 10,
      bootMs: 1,
    });
    return generation;
  }

  it('copies the RAM into a memfd of its own and the state into a directory of its own', () => {
    save(config, 'template RAM');
    const a = cloneTemplate(config, runtimeDir, 'tcg', 'sandbox').copy;
    const b = cloneTemplate(config, runtimeDir, 'tcg', 'sandbox').copy;
    if (a === undefined || b === undefined) throw new Error('no copy');
    expect(readFileSync(`/proc/self/fd/${a.memoryFd}`, 'utf8')).toBe('template RAM');
    expect(readFileSync(b.state, 'utf8')).toBe('state of template RAM');
    // The same sandbox id twice (two containerd namespaces) gets two copies.
    expect(a.state).not.toBe(b.state);
    a.release();
    a.release();
    expect(readdirSync(join(dir, 'template', 'clones'))).toHaveLength(1);
    expect(() => closeSync(a.memoryFd)).toThrow(/EBADF/);
    b.release();
    expect(readdirSync(join(dir, 'template', 'clones'))).toEqual([]);
  });

  it('says why a VM boots instead: templates off, none saved, or another configuration, build or accelerator', () => {
    const off = { ...config, factory: { ...config.factory, enable_template: false } };
    expect(cloneTemplate(off, runtimeDir, 'tcg', 'x')).toEqual({ reason: '[factory] enable_template is false' });
    expect(cloneTemplate(config, runtimeDir, 'tcg', 'x').reason).toMatch(/^no template in .*template create/);
    save({ ...config, hypervisor: { ...config.hypervisor, memory_mib: 1024 } }, 'other');
    expect(cloneTemplate(config, runtimeDir, 'tcg', 'x').reason).toMatch(/another configuration/);
    save(config, 'ours', 'kvm');
    expect(cloneTemplate(config, runtimeDir, 'tcg', 'x').reason).toMatch(/accelerator/);
    save(config, 'ours');
    const copy = cloneTemplate(config, runtimeDir, 'tcg', 'x').copy;
    expect(copy).toBeDefined();
    copy?.release();
    // A rebuilt runtime is another build: its files' times are in the fingerprint.
    writeFileSync(join(runtimeDir, 'agent.js'), 'rebuilt');
    expect(cloneTemplate(config, runtimeDir, 'tcg', 'x').reason).toMatch(/another configuration, build/);
  });

  it('boots when the template went while it was being copied, leaving no copy', () => {
    const generation = save(config, 'gone');
    rmSync(join(config.factory.template_path, generation), { recursive: true });
    expect(cloneTemplate(config, runtimeDir, 'tcg', 'x').reason).toMatch(/replaced or removed meanwhile/);
    expect(readdirSync(join(config.factory.template_path, 'clones'))).toEqual([]);
  });
});
