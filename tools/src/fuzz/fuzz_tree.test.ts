import { readdirSync, writeFileSync } from 'node:fs';
import { FuzzTree } from './fuzz_tree';

let tree: FuzzTree;
beforeEach(() => {
  tree = FuzzTree.create();
});
afterEach(() => tree.remove());

test('resetShare removes what the guest made under a name that is not UTF-8', () => {
  const fresh = readdirSync(tree.share).sort();
  // 200 bytes that each decode to U+FFFD (3 bytes as UTF-8): the decoded name would be 600 bytes.
  const name = Buffer.alloc(200, 0xff);
  writeFileSync(Buffer.concat([Buffer.from(`${tree.share}/`), name]), 'guest\n');
  expect(readdirSync(tree.share, { encoding: 'buffer' }).some((n) => n.equals(name))).toBe(true);
  tree.resetShare();
  expect(readdirSync(tree.share).sort()).toEqual(fresh);
});
