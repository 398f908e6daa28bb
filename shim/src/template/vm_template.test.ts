import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type VfsConfig } from '@vfs/runtime-config';
import {
  checkTmpfs,
  cloneTemplate,
  newGeneration,
  publishTemplate,
  readTemplateMeta,
  removeTemplate,
  type TemplateMeta,
  templateFiles,
  templateFingerprint,
} from './vm_template';

describe('the VM template on tmpfs', () => {
  let dir: string;
  let runtimeDir: string;
  let config: VfsConfig;

  beforeEach(() => {
    dir = mkdtempSync('/dev/shm/vfs-template-test-');
    runtimeDir = mkdtempSync(join(tmpdir(), 'vfs-template-runtime-'));
    const base = defaultConfig();
    config = { ...base, factory: { enable_template: true, template_path: join(dir, 'template') } };
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  /** Saves a template with `ram` at the start of its memory file, as template create does. */
  function save(forConfig: VfsConfig, ram: string): TemplateMeta {
    const files = templateFiles(forConfig.factory.template_path);
    const { generation, vm } = newGeneration(files);
    writeFileSync(vm.memory, ram);
    writeFileSync(vm.state, `state of ${ram}`);
    const meta: TemplateMeta = {
      generation,
      fingerprint: templateFingerprint(forConfig, runtimeDir),
      createdAt: new Date().toISOString(),
      memoryMiB: 512,
      memoryDataBytes: ram.length,
      stateBytes: 10,
      bootMs: 1,
    };
    publishTemplate(files, meta);
    return meta;
  }

  it('copies the saved template for a VM, each copy its own, and removes a copy when asked', () => {
    save(config, 'template RAM');
    const a = cloneTemplate(config, runtimeDir, 'sandbox-a').copy;
    const b = cloneTemplate(config, runtimeDir, 'sandbox-b').copy;
    expect(a?.memory).toBe(join(dir, 'template', 'clones', 'sandbox-a', 'memory'));
    expect(readFileSync(a?.memory ?? '', 'utf8')).toBe('template RAM');
    expect(readFileSync(b?.state ?? '', 'utf8')).toBe('state of template RAM');
    a?.remove();
    expect(existsSync(a?.dir ?? '')).toBe(false);
    expect(existsSync(b?.memory ?? '')).toBe(true);
  });

  it('says why a VM boots instead: templates off, none saved, or saved under another configuration', () => {
    expect(
      cloneTemplate({ ...config, factory: { ...config.factory, enable_template: false } }, runtimeDir, 'x'),
    ).toEqual({
      reason: '[factory] enable_template is false',
    });
    expect(cloneTemplate(config, runtimeDir, 'x').reason).toMatch(/^no template in .*vfs-runtime template create/);
    save({ ...config, hypervisor: { ...config.hypervisor, memory_mib: 1024 } }, 'other');
    expect(cloneTemplate(config, runtimeDir, 'x').reason).toMatch(/another configuration or build/);
    // A rebuilt runtime is another build: its files' times are in the fingerprint.
    save(config, 'ours');
    writeFileSync(join(runtimeDir, 'agent.js'), 'rebuilt');
    expect(cloneTemplate(config, runtimeDir, 'x').reason).toMatch(/another configuration or build/);
  });

  it('replaces a template whole: the description names the new generation, the old one goes', () => {
    const first = save(config, 'first');
    const second = save(config, 'second');
    const files = templateFiles(config.factory.template_path);
    expect(readTemplateMeta(files)?.generation).toBe(second.generation);
    expect(readdirSync(files.dir).sort()).toEqual([second.generation, 'template.json'].sort());
    expect(existsSync(join(files.dir, first.generation))).toBe(false);
    expect(readFileSync(cloneTemplate(config, runtimeDir, 'x').copy?.memory ?? '', 'utf8')).toBe('second');
  });

  it('tells a template replaced during the copy from a failure, and leaves no copy behind', () => {
    const meta = save(config, 'gone');
    rmSync(join(config.factory.template_path, meta.generation), { recursive: true });
    expect(cloneTemplate(config, runtimeDir, 'x').reason).toMatch(/replaced meanwhile/);
    expect(readdirSync(join(config.factory.template_path, 'clones'))).toEqual([]);
  });

  it('refuses a description whose generation is not one of its own names', () => {
    const files = templateFiles(config.factory.template_path);
    mkdirSync(files.dir, { recursive: true });
    writeFileSync(files.meta, JSON.stringify({ generation: '../../etc' }));
    expect(() => readTemplateMeta(files)).toThrow(/malformed generation/);
    expect(cloneTemplate(config, runtimeDir, 'x').reason).toMatch(/unreadable: .*malformed generation/);
  });

  it('removes the template with any copies left behind, and says whether there was one', () => {
    save(config, 'ram');
    cloneTemplate(config, runtimeDir, 'left');
    const files = templateFiles(config.factory.template_path);
    expect(removeTemplate(files)).toBe(true);
    expect(existsSync(files.dir)).toBe(false);
    expect(removeTemplate(files)).toBe(false);
  });

  it('accepts tmpfs for the template and refuses any other filesystem', () => {
    expect(() => checkTmpfs(dir)).not.toThrow();
    expect(() => checkTmpfs('/proc')).toThrow(/template_path \/proc is not on tmpfs/);
  });
});
