// Builds OCI image tarballs offline (no registry is reachable): a rootfs (busybox-static with a
// link per applet, or any tree the caller fills), one deterministic gzip layer (sorted tar, mtime
// 0, uid/gid 0; gzip without name or time), the image config, the manifest, and index.json naming
// the image with io.containerd.image.name so `ctr images import` tags it.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUSYBOX_BINARY = '/bin/busybox';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The image config's `config`: how a container of the image runs unless told otherwise. */
export interface ImageRunConfig {
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env: readonly string[];
  readonly WorkingDir: string;
}

interface Blob {
  readonly digest: string;
  readonly size: number;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function writeBlob(layout: string, data: Buffer): Blob {
  const digest = sha256(data);
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  return { digest, size: data.length };
}

function buildRootfs(dir: string): void {
  for (const sub of ['bin', 'dev', 'etc', 'proc', 'root', 'sys', 'tmp', 'usr/bin', 'usr/sbin', 'sbin'])
    mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(BUSYBOX_BINARY, join(dir, 'bin', 'busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin', 'busybox')]);
  const applets = execFileSync(BUSYBOX_BINARY, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
  for (const applet of applets) {
    const link = join(dir, applet);
    if (applet === 'bin/busybox') continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync('/bin/busybox', link);
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n');
}

function deterministicTar(dir: string): Buffer {
  return execFileSync(
    'tar',
    [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--format=posix',
      '--pax-option=delete=atime,delete=ctime',
      '-C',
      dir,
      '-cf',
      '-',
      '.',
    ],
    {
      // Room for images with a runtime in them (vfs-bench's Node image: ≈100 MB).
      maxBuffer: 1 << 30,
    },
  );
}

/** Writes `<outDir>/busybox.oci.tar` for image `name` (e.g. docker.io/library/busybox:vfs) and returns its path. */
export function buildBusyboxImage(outDir: string, name: string): string {
  return buildImage(join(outDir, 'busybox.oci.tar'), name, buildRootfs, {
    Env: [PATH_ENV],
    Cmd: ['/bin/sh'],
    WorkingDir: '/',
  });
}

/** Writes image `name` to `outFile`, its one layer the tree `fill` makes in an empty directory; returns `outFile`. */
export function buildImage(
  outFile: string,
  name: string,
  fill: (rootfs: string) => void,
  runConfig: ImageRunConfig,
): string {
  const work = mkdtempSync(join(tmpdir(), 'vfs-image-'));
  try {
    const rootfs = join(work, 'rootfs');
    const layout = join(work, 'layout');
    mkdirSync(rootfs);
    fill(rootfs);
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const tar = deterministicTar(rootfs);
    const layer = writeBlob(layout, gzipSync(tar, { level: 9 }));
    const config = writeBlob(
      layout,
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: runConfig,
          rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        }),
      ),
    );
    const manifest = writeBlob(
      layout,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      ),
    );
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            platform: { architecture: 'amd64', os: 'linux' },
            annotations: {
              'io.containerd.image.name': name,
              'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1),
            },
          },
        ],
      }),
    );
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, deterministicTar(layout));
    return outFile;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The digest of the image's single layer, for tests that check determinism. */
export function layerDigestOf(imageTar: string): string {
  const index = execFileSync('tar', ['-xOf', imageTar, './index.json'], { encoding: 'utf8' });
  const manifestDigest = (JSON.parse(index) as { manifests: { digest: string }[] }).manifests[0]?.digest ?? '';
  const manifest = execFileSync('tar', ['-xOf', imageTar, `./blobs/sha256/${manifestDigest.slice(7)}`], {
    encoding: 'utf8',
  });
  return (JSON.parse(manifest) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
}
