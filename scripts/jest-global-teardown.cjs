// After a jest run: the Worker and program bundles the tests made (harness/src/bundles.ts,
// bundleWorker: node_modules/.cache/vfs-test-workers/<entry>-<pid>-<n>.js) whose jest process has
// exited. A jest worker stopped at the run's end never runs its own clean-up (the harness's
// process 'exit' hook), so every run left one daemon bundle per worker behind. Bundles of a jest
// process still running (another run in the same checkout) stay.
const { existsSync, readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const WORKER_CACHE = join(__dirname, '..', 'node_modules', '.cache', 'vfs-test-workers');

module.exports = async function removeExitedWorkersBundles() {
  if (!existsSync(WORKER_CACHE)) return;
  for (const name of readdirSync(WORKER_CACHE)) {
    const pid = /-(\d+)-\d+\.js$/.exec(name)?.[1];
    if (pid !== undefined && !existsSync(`/proc/${pid}`)) rmSync(join(WORKER_CACHE, name), { force: true });
  }
};
