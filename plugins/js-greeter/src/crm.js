// js-crm: the crm-lookup plugin's greeting, in JavaScript, with the standard fetch() (wasi:http
// underneath). The host sends the request only if the app's `allowed_outbound_hosts` names the
// CRM; a refusal, an error or a slow CRM is a rejected fetch(), answered with a generic greeting.
//
// Variables (app.toml [vars]): crm_url (the CRM's base URL: callers are at {crm_url}/callers/{from},
// 200 with {"name": ...} or 404), crm_timeout_ms (default 1000).

import { log, config } from 'vonage:ncco/host@0.1.2';

function talk(text) {
  return { action: 'talk', text };
}

// The caller's record, or null (and why, in the call's log).
async function lookup(caller) {
  const base = config('crm_url');
  if (!base || !caller) {
    log('info', 'no crm_url or no caller: the generic greeting');
    return null;
  }
  const timeout = Number(config('crm_timeout_ms') || 1000);
  const url = `${base.replace(/\/+$/, '')}/callers/${encodeURIComponent(caller)}`;
  try {
    const response = await Promise.race([
      fetch(url, { headers: { accept: 'application/json' } }),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout)),
    ]);
    if (response.status !== 200) {
      log('info', `the CRM answered ${response.status}`);
      return null;
    }
    const record = await response.json();
    return typeof record.name === 'string' && record.name.trim() ? record : null;
  } catch (e) {
    log('warn', `the CRM is unavailable: ${e}`);
    return null;
  }
}

export async function answer(ctx, request) {
  const req = JSON.parse(request);
  const caller = req.from || req.from_user || '';
  const record = await lookup(caller);
  const greeting = record ? `Hello ${record.name}, from JavaScript.` : 'Hello, thank you for calling.';
  log('info', `answering ${caller || 'an unknown caller'} on ${ctx.tenant}/${ctx.app}`);
  return JSON.stringify([talk(greeting)]);
}

export function event(ctx, body) {
  return undefined;
}
