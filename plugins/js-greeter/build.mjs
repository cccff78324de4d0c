// Builds the JavaScript plugins, each componentized against the host's WIT world `plugin`:
// - dist/js-greeter.wasm (src/plugin.js): features the contract does not need (HTTP, fetch, stdio,
//   clocks, random) are left out, so the component imports only ncco-host's own interfaces;
// - dist/js-crm.wasm (src/crm.js): fetch() is kept (it imports wasi:http, so its app must list the
//   hosts it may reach in `allowed_outbound_hosts`).
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const plugins = [
  { name: 'js-greeter', source: 'plugin.js', disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'] },
  { name: 'js-crm', source: 'crm.js', disableFeatures: ['stdio', 'fetch-event'] },
];
const only = process.argv[2];
await mkdir(join(here, 'dist'), { recursive: true });
for (const plugin of plugins.filter((p) => !only || p.name === only)) {
  const source = await readFile(join(here, 'src', plugin.source), 'utf8');
  const { component } = await componentize(source, {
    witPath: join(here, '..', '..', 'guest-sdk', 'wit'),
    worldName: 'plugin',
    disableFeatures: plugin.disableFeatures,
  });
  const out = join(here, 'dist', `${plugin.name}.wasm`);
  await writeFile(out, component);
  console.log(`wrote ${out} (${component.length} bytes)`);
}
