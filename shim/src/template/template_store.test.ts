import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  checkOwnDir,
  checkTmpfs,
  lockTemplate,
  newGeneration,
  ownTemplateDir,
  publishTemplate,
  readTemplateMeta,
  removeTemplate,
  type TemplateMeta,
  templateFiles,
} from './template_store';

describe('where a VM template is kept', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/dev/shm/vfs-template-store-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const meta = (generation: string): TemplateMeta => ({
    generation,
    fingerprint: 'f',
    createdAt: 'now',
    memoryMiB: 512,
    memoryDataBytes: 1,
    stateBytes: 1,
    bootMs: 1,
  });

  it('publishes a generation whole and drops the one it replaces', () => {
    const files = templateFiles(join(dir, 'template'));
    ownTemplateDir(files);
    expect(readTemplateMeta(files)).toBeUndefined();
    const first = newGeneration(files);
    publishTemplate(files, meta(first.generation));
    const second = newGeneration(files);
    expect(readTemplateMeta(files)?.generation).toBe(first.generation);
    publishTemplate(files, meta(second.generation));
    expect(readTemplateMeta(files)?.generation).toBe(second.generation);
    expect(readdirSync(files.dir).sort()).toEqual([second.generation, 'template.json'].sort());
  });

  it('refuses a description whose generation is not one of its own names', () => {
    const files = templateFiles(join(dir, 'template'));
    ownTemplateDir(files);
    writeFileSync(files.meta, JSON.stringify({ generation: '../../etc' }));
    expect(() => readTemplateMeta(files)).toThrow(/malformed generation/);
  });

  it('refuses a directory others may write, or a symlink, and says so', () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => checkOwnDir(open)).toThrow(/not a directory of user 0 that only it may write .*mode 777/);
    expect(() => readTemplateMeta(templateFiles(open))).toThrow(/refused/);
    const link = join(dir, 'link');
    symlinkSync(join(dir, 'elsewhere'), link);
    expect(() => checkOwnDir(link)).toThrow(/a symlink/);
    expect(checkOwnDir(join(dir, 'missing'))).toBe(false);
  });

  it('accepts tmpfs for the template and refuses any other filesystem', () => {
    expect(() => checkTmpfs(dir)).not.toThrow();
    expect(() => checkTmpfs('/proc')).toThrow(/template_path \/proc is not on tmpfs/);
  });

  it('lets one template create or remove hold the directory at a time', () => {
    const files = templateFiles(join(dir, 'template'));
    ownTemplateDir(files);
    const held = lockTemplate(files);
    expect(() => lockTemplate(files)).toThrow(/another template create or remove is running/);
    held.release();
    lockTemplate(files).release();
  });

  it('removes what a template is made of and nothing else, with a corrupt description too', () => {
    const files = templateFiles(join(dir, 'template'));
    ownTemplateDir(files);
    const { generation } = newGeneration(files);
    publishTemplate(files, meta(generation));
    // A crashed shim's state copy, and one a sandbox may be loading right now.
    mkdirSync(join(files.clones, 'left-over'), { recursive: true });
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(files.clones, 'left-over'), anHourAgo, anHourAgo);
    mkdirSync(join(files.clones, 'starting'));
    writeFileSync(join(files.dir, 'not-ours'), 'keep');
    writeFileSync(files.meta, '{ corrupt');
    expect(removeTemplate(files)).toBe(true);
    expect(readdirSync(files.dir).sort()).toEqual(['clones', 'not-ours']);
    expect(readdirSync(files.clones)).toEqual(['starting']);
    rmSync(join(files.dir, 'not-ours'));
    rmSync(files.clones, { recursive: true });
    expect(removeTemplate(files)).toBe(false);
    expect(existsSync(files.dir)).toBe(false);
  });
});
