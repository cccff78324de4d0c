// js-greeter: an ncco-host plugin in JavaScript. It implements the same WIT world as the Rust plugins
// (guest-sdk/wit/ncco.wit): `answer` returns the NCCO JSON for a new call, `event` handles callbacks.
// The JSON in and out is Vonage's own, so no generated types are needed.
//
// Variables (app.toml [vars]): greeting (default "Hello").
// Callbacks: `menu` (the DTMF input); the key pressed is kept in call state and read back.

import { log, config, callGet, callSet, appGet, appSet } from 'vonage:ncco/host@0.1.2';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function talk(text) {
  return { action: 'talk', text };
}

// Counts the calls this app answered, in app state.
function countCall() {
  const stored = appGet('calls');
  const calls = (stored ? Number(decoder.decode(stored)) : 0) + 1;
  appSet('calls', encoder.encode(String(calls)), undefined);
  return calls;
}

export function answer(ctx, request) {
  const req = JSON.parse(request);
  const caller = req.from || req.from_user || 'caller';
  const calls = countCall();
  log('info', `answering ${caller} (call ${calls}) on ${ctx.tenant}/${ctx.app}`);
  const ncco = [
    talk(`${config('greeting') || 'Hello'} ${caller}, from JavaScript. You are caller ${calls}.`),
    { action: 'talk', text: 'Press a key.', bargeIn: true },
    { action: 'input', type: ['dtmf'], dtmf: { maxDigits: 1, timeOut: 5 }, eventUrl: [`${ctx.appUrl}/event/menu`] },
  ];
  return JSON.stringify(ncco);
}

export function event(ctx, body) {
  const ev = JSON.parse(body);
  if (ctx.callback !== 'menu' || !ev.dtmf) {
    return undefined;
  }
  const digits = ev.dtmf.digits;
  if (!digits) {
    return JSON.stringify([talk('You pressed nothing. Goodbye.')]);
  }
  const before = callGet('last');
  callSet('last', encoder.encode(digits));
  const again = before ? ` Last time you pressed ${decoder.decode(before)}.` : '';
  return JSON.stringify([talk(`You pressed ${digits}.${again}`)]);
}
