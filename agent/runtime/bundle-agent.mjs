// bundle-agent.mjs ENTRY OUT — bundles the guest agent into one CommonJS file for the runtime
// share: one file to read over virtio-fs at start, minified (less to read and parse under TCG),
// no source map (it would double the file). The agent has no native dependency.
import { build } from 'esbuild';

const [entry, out] = process.argv.slice(2);
if (!entry || !out) {
  console.error('usage: bundle-agent.mjs ENTRY OUT');
  process.exit(2);
}
console.log(`runtime: bundling ${entry} -> ${out}`);
await build({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
