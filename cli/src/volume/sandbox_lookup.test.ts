import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxPaths } from '@vfs/contracts';
import { addSandbox } from '../../test_support/run_dir_fixture';
import { findContainerSandbox, listSandboxes } from './sandbox_lookup';
import { VolumeError } from './volume_error';

describe('finding a container’s sandbox', () => {
  let runDir: string;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'vfs-cli-run-'));
    addSandbox(runDir, 'default', 'lone', ['lone']);
    addSandbox(runDir, 'k8s.io', 'pod-a', ['pod-a', 'app', 'sidecar']);
    addSandbox(runDir, 'k8s.io', 'pod-b', ['pod-b', 'web']);
    addSandbox(runDir, 'other', 'twin', ['app']);
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  it('finds the sandbox whose state dir has the container’s marker, with its management socket', () => {
    expect(findContainerSandbox(runDir, 'sidecar', 'k8s.io')).toEqual({
      namespace: 'k8s.io',
      sandboxId: 'pod-a',
      managementSocket: sandboxPaths(runDir, 'k8s.io', 'pod-a').managementSocket,
    });
  });

  it('searches every namespace when none is given', () => {
    expect(findContainerSandbox(runDir, 'web').sandboxId).toBe('pod-b');
    expect(findContainerSandbox(runDir, 'lone').namespace).toBe('default');
  });

  it('refuses an unknown container, naming where it looked', () => {
    expect(() => findContainerSandbox(runDir, 'ghost', 'k8s.io')).toThrow(
      new VolumeError('unknown container ghost (no vfs sandbox serves it in namespace k8s.io)'),
    );
    expect(() => findContainerSandbox(runDir, 'web', 'default')).toThrow(
      'unknown container web (no vfs sandbox serves it in namespace default)',
    );
    expect(() => findContainerSandbox(runDir, 'ghost')).toThrow(
      `unknown container ghost (no vfs sandbox serves it in any namespace under ${join(runDir, 'sandboxes')})`,
    );
  });

  it('asks for --namespace when the id is in several namespaces', () => {
    expect(() => findContainerSandbox(runDir, 'app')).toThrow(
      'container app is in several namespaces (k8s.io/pod-a, other/twin): name one with --namespace',
    );
    expect(findContainerSandbox(runDir, 'app', 'other').sandboxId).toBe('twin');
  });

  it('lists the sandboxes of a namespace or of all, and none before any sandbox ran', () => {
    expect(listSandboxes(runDir, 'k8s.io').map((s) => s.sandboxId)).toEqual(['pod-a', 'pod-b']);
    expect(listSandboxes(runDir).map((s) => `${s.namespace}/${s.sandboxId}`)).toEqual([
      'default/lone',
      'k8s.io/pod-a',
      'k8s.io/pod-b',
      'other/twin',
    ]);
    expect(listSandboxes(join(runDir, 'fresh'))).toEqual([]);
  });
});
