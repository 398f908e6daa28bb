// An OCI image tarball (oci_image.ts) made loadable by Docker 26's `docker load`: with its classic
// graph drivers Docker reads only the docker-save manifest.json (config, repo tags, layer files),
// not index.json. The blobs are the same files, so the archive gets that one entry appended.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface OciDescriptor {
  readonly digest: string;
}

function entry(imageTar: string, path: string): unknown {
  return JSON.parse(execFileSync('tar', ['-xOf', imageTar, `./${path}`], { encoding: 'utf8' }));
}

function blobPath(descriptor: OciDescriptor): string {
  return `blobs/sha256/${descriptor.digest.slice('sha256:'.length)}`;
}

/** Copies the single-image OCI archive `ociTar` to `outFile` with a manifest.json tagging it `repoTag`; returns `outFile`. */
export function dockerLoadableImage(ociTar: string, repoTag: string, outFile: string): string {
  const index = entry(ociTar, 'index.json') as { manifests: OciDescriptor[] };
  const [image] = index.manifests;
  if (image === undefined || index.manifests.length !== 1)
    throw new Error(`${ociTar}: expected one image, found ${index.manifests.length}`);
  const manifest = entry(ociTar, blobPath(image)) as { config: OciDescriptor; layers: OciDescriptor[] };
  const work = mkdtempSync(join(tmpdir(), 'vfs-docker-image-'));
  try {
    writeFileSync(
      join(work, 'manifest.json'),
      JSON.stringify([
        { Config: blobPath(manifest.config), RepoTags: [repoTag], Layers: manifest.layers.map(blobPath) },
      ]),
    );
    copyFileSync(ociTar, outFile);
    execFileSync('tar', ['--append', '-f', outFile, '-C', work, './manifest.json']);
    return outFile;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
