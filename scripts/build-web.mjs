// Builds the dashboard (web/ → web/dist) unless the build is newer than every source
// file. Runs from `npm ci` (prepare), `npm start` (prestart) and `npm test`, so nobody
// has to know the front end needs building. `--force` always builds.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder, mtime, newest } from './mtime.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const built = join(web, 'dist', 'index.html');

// The pages bundle modules from src/ too (the browser member runs the Node member's handlers).
const sources = [join(web, 'index.html'), join(web, 'join.html'), join(web, 'vite.config.ts'), ...filesUnder(join(web, 'src')), ...filesUnder(join(root, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))];

if (process.argv.includes('--force') || mtime(built) < newest(sources)) {
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (mtime(vite) < 0) {
    // An install without devDependencies: the coordinator then answers `/` with how to build.
    console.warn('vite is not installed (npm ci --omit=dev?): the dashboard in web/ is not built');
    process.exit(0);
  }
  const result = spawnSync(process.execPath, [vite, 'build', web], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error('building the dashboard (web/) failed');
    process.exit(result.status ?? 1);
  }
}
