// Builds dist/js-greeter.wasm: src/plugin.js componentized against the host's WIT world `plugin`.
// Features the contract does not allow (HTTP, fetch, stdio, clocks, random) are left out, so the
// component imports only what ncco-host links.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = await readFile(join(here, 'src', 'plugin.js'), 'utf8');
const { component } = await componentize(source, {
  witPath: join(here, '..', '..', 'guest-sdk', 'wit'),
  worldName: 'plugin',
  disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
});
await mkdir(join(here, 'dist'), { recursive: true });
const out = join(here, 'dist', 'js-greeter.wasm');
await writeFile(out, component);
console.log(`wrote ${out} (${component.length} bytes)`);
