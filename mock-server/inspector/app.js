// heldqr-mock inspector: polls the journal (GET /_mock/requests?after=CURSOR) and the state
// (GET /_mock/state) once a second, and renders both. Every value from the server is put in
// the page as text (textContent), never as HTML. With an admin token configured, the page
// asks for it once and trades it for an HttpOnly session cookie (POST /_mock/session); the
// token is never stored, and never put in a URL.
'use strict';

(() => {
  const POLL_MS = 1000;
  const KEEP = 1000; // entries kept in the page
  const FIRST_LOAD = 500; // entries asked for at first, or after the filters change
  const HEADERS = { 'x-heldqr-inspector': '1' };

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(c);
    }
    return node;
  };

  const entries = new Map(); // id -> journal entry
  // The journal's cursor from the last answer (null: load the newest FIRST_LOAD entries).
  // Following it, every entry arrives once, a slow request answered late included.
  let cursor = null;
  let selectedId = null;
  let filterQuery = '';
  let generation = 0; // bumps when the filters change, so a late answer is dropped
  let signedIn = false;
  let timer = null;
  let accountsKnown = '';
  let journalOff = false;

  // ---- talking to the mock ----

  class Unauthorized extends Error {}

  async function call(method, path, body) {
    const init = { method, headers: { ...HEADERS }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 401) throw new Unauthorized();
    if (!res.ok) {
      let message = `${res.status}`;
      try {
        const e = await res.json();
        if (e && e.error && e.error.message) message = `${res.status}: ${e.error.message}`;
      } catch (_) { /* no envelope */ }
      throw new Error(message);
    }
    return res.status === 204 ? null : res.json();
  }

  function setLive(text) {
    $('#live').textContent = text;
  }

  // ---- sign-in ----

  async function checkSession() {
    const s = (await call('GET', '/_mock/session')).data;
    $('#sign-out').hidden = !s.admin_token_required;
    if (s.admin_token_required && !s.signed_in) {
      askToken();
      return false;
    }
    return true;
  }

  function askToken(message) {
    signedIn = false;
    stopPolling();
    setLive('Waiting for the admin token.');
    $('#login-error').textContent = message || '';
    const dialog = $('#login');
    if (!dialog.open) dialog.showModal();
    $('#login-token').focus();
  }

  $('#login').addEventListener('cancel', (e) => e.preventDefault());

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#login-token');
    const token = input.value.trim();
    input.value = '';
    if (!token) return;
    try {
      const res = await fetch('/_mock/session', {
        method: 'POST',
        headers: { ...HEADERS, authorization: `Bearer ${token}` },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (res.status === 401) {
        $('#login-error').textContent = 'That is not the admin token.';
        input.focus();
        return;
      }
      if (!res.ok) throw new Error(`${res.status}`);
      $('#login').close();
      start();
    } catch (err) {
      $('#login-error').textContent = `Could not sign in (${err.message}).`;
    }
  });

  $('#sign-out').addEventListener('click', async () => {
    try {
      await call('DELETE', '/_mock/session');
    } catch (_) { /* signed out already */ }
    askToken('Signed out.');
  });

  // ---- polling ----

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function schedule() {
    stopPolling();
    timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (!signedIn) return;
    if (document.hidden) {
      schedule();
      return;
    }
    try {
      await Promise.all([pollRequests(), pollState()]);
      setLive(`Live: updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (err instanceof Unauthorized) {
        askToken('The mock asked for the admin token again.');
        return;
      }
      setLive(err instanceof TypeError
        ? 'Cannot reach the mock; retrying.'
        : `The mock refused the update (${err.message}); retrying.`);
    }
    schedule();
  }

  async function pollRequests() {
    const gen = generation;
    const q = new URLSearchParams(filterQuery);
    const sent = cursor;
    if (sent !== null) q.set('after', String(sent));
    else q.set('limit', String(FIRST_LOAD));
    const page = await call('GET', `/_mock/requests?${q}`);
    if (gen !== generation) return;
    if (sent !== null && page.cursor < sent) {
      // The journal has recorded less than we had seen: a new mock on the same address.
      forgetEntries();
      return;
    }
    const got = page.data;
    for (const e of got) entries.set(e.id, e);
    // Polls may overlap (the timer, a button): never step the cursor back.
    cursor = cursor === null ? page.cursor : Math.max(cursor, page.cursor);
    if (entries.size > KEEP) {
      const ids = [...entries.keys()].sort((a, b) => a - b);
      for (const id of ids.slice(0, entries.size - KEEP)) entries.delete(id);
    }
    if (got.length > 0 || gen !== renderedGeneration) renderRequests();
  }

  async function pollState() {
    renderState((await call('GET', '/_mock/state')).data);
  }

  function forgetEntries() {
    entries.clear();
    cursor = null;
    generation += 1;
    selectedId = null;
    renderRequests();
    renderDetail();
  }

  async function start() {
    try {
      if (!(await checkSession())) return;
    } catch (err) {
      setLive(`Cannot reach the mock (${err.message}).`);
      setTimeout(start, 2000);
      return;
    }
    signedIn = true;
    poll();
  }

  // ---- requests ----

  function groupKey(e) {
    return e.idempotency_key === null ? null : `${e.account}\u0000${e.token}\u0000${e.idempotency_key}`;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  // "3 attempts: 1 created, 2 replays" (and the rest, when some failed).
  function groupSummary(list) {
    const created = list.filter((e) => e.status === 201 && !e.idempotent_replay).length;
    const replays = list.filter((e) => e.idempotent_replay).length;
    const other = list.length - created - replays;
    let s = `${plural(list.length, 'attempt', 'attempts')}: ${created} created, ${plural(replays, 'replay', 'replays')}`;
    if (other > 0) s += `, ${other} other`;
    return s;
  }

  // HH:MM:SS.mmm of an RFC 3339 instant (the server drops trailing zeros of the fraction).
  function timeOf(at) {
    const m = /T(\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(at || '');
    return m ? `${m[1]}.${(m[2] || '').padEnd(3, '0').slice(0, 3)}` : at;
  }

  function statusClass(status) {
    if (status >= 500) return 'st st5';
    if (status >= 400) return 'st st4';
    if (status >= 300) return 'st st3';
    return 'st st2';
  }

  let renderedGeneration = -1;

  function requestRow(e, grouped) {
    const open = () => select(e.id);
    const keyCell = e.idempotency_key !== null
      ? el('td', { class: 'mono' }, el('span', { text: e.idempotency_key }))
      : el('td', { class: 'muted', text: e.method === 'POST' && e.path === '/api/v1/codes' ? 'none (not retry-safe)' : '—' });
    const row = el(
      'tr',
      {
        class: `req${grouped ? ' in-group' : ''}${e.id === selectedId ? ' selected' : ''}`,
        'data-id': String(e.id),
        onclick: (ev) => { if (ev.target.tagName !== 'BUTTON') open(); },
      },
      el('td', {}, el('button', {
        type: 'button', class: 'linklike', text: timeOf(e.at),
        'aria-label': `${timeOf(e.at)} ${e.method} ${e.path} ${e.status}: open request ${e.id}`,
        'aria-pressed': e.id === selectedId ? 'true' : 'false',
        onclick: open,
      })),
      el('td', { class: 'mono', text: e.method }),
      el('td', { class: 'mono path', text: e.query ? `${e.path}?${e.query}` : e.path }),
      el('td', {}, el('span', { class: statusClass(e.status), text: String(e.status) })),
      el('td', { text: e.account || '—' }),
      keyCell,
      el('td', { text: e.idempotent_replay ? 'replay' : '' }),
      el('td', { class: e.fault ? 'fault' : '', text: e.fault || '' }),
      el('td', { class: 'num', text: `${e.duration_ms.toFixed(1)} ms` }),
    );
    return row;
  }

  function renderRequests() {
    renderedGeneration = generation;
    const tbody = $('#requests tbody');
    const sorted = [...entries.values()].sort((a, b) => b.id - a.id);
    const groups = new Map();
    for (const e of sorted) {
      const k = groupKey(e);
      if (k === null) continue;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(e);
    }
    const rows = [];
    const done = new Set();
    for (const e of sorted) {
      const k = groupKey(e);
      if (k === null) {
        rows.push(requestRow(e, false));
        continue;
      }
      if (done.has(k)) continue;
      done.add(k);
      const list = groups.get(k);
      if (list.length === 1) {
        rows.push(requestRow(e, false));
        continue;
      }
      const head = el('tr', { class: 'group' }, el('th', { scope: 'rowgroup', colspan: '9' },
        el('span', { class: 'group-summary', text: groupSummary(list) }),
        el('span', { class: 'muted', text: ' · key ' }),
        el('span', { class: 'mono', text: e.idempotency_key }),
        el('span', { class: 'muted', text: ` · token …${e.token || '(short)'} · ${e.account || 'unknown account'}` })));
      rows.push(head);
      for (const g of list) rows.push(requestRow(g, true));
    }
    tbody.replaceChildren(...rows);
    const n = entries.size;
    $('#requests-count').textContent = n === 0
      ? (journalOff ? 'The journal is off (--journal-size 0): no requests are recorded.' : 'No requests yet. Point a client at this server and they appear here.')
      : `${plural(n, 'request', 'requests')} shown${n >= KEEP ? ` (the newest ${KEEP})` : ''}.`;
  }

  function select(id) {
    selectedId = id;
    for (const tr of document.querySelectorAll('#requests tr.req')) {
      const on = Number(tr.dataset.id) === id;
      tr.classList.toggle('selected', on);
      const b = tr.querySelector('button');
      if (b) b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    renderDetail();
    $('#detail-heading').focus();
  }

  function headerTable(caption, headers) {
    return el('table', { class: 'kv' },
      el('caption', { text: caption }),
      el('tbody', {}, ...Object.entries(headers || {}).map(([k, v]) =>
        el('tr', {}, el('th', { scope: 'row', class: 'mono', text: k }), el('td', { class: 'mono', text: v })))));
  }

  function bodyBlock(label, msg) {
    const text = msg.body === null ? '(no body)' : typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body, null, 2);
    return el('div', { class: 'body' },
      el('h4', { text: label }),
      el('pre', { class: 'mono', tabindex: '0', 'aria-label': label, text }),
      msg.body_truncated ? el('p', { class: 'note', text: 'Cut: the journal keeps the first 4 KiB of a body.' }) : null);
  }

  function renderDetail() {
    const box = $('#detail-body');
    const e = selectedId === null ? undefined : entries.get(selectedId);
    $('#detail-empty').hidden = !!e;
    box.hidden = !e;
    if (!e) {
      box.replaceChildren();
      return;
    }
    const facts = [
      ['Id', String(e.id)], ['At (server clock)', e.at], ['Request id', e.request_id || '—'],
      ['Account', e.account || '—'], ['Token', e.token ? `…${e.token}` : '—'],
      ['Idempotency key', e.idempotency_key === null ? '—' : e.idempotency_key],
      ['Replay', e.idempotent_replay ? 'yes (stored answer replayed)' : 'no'],
      ['Fault', e.fault || 'none'], ['Duration', `${e.duration_ms.toFixed(2)} ms`],
    ];
    box.replaceChildren(
      el('p', { class: 'mono line', text: `${e.method} ${e.query ? `${e.path}?${e.query}` : e.path} → ${e.status}` }),
      el('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])),
      el('h3', { text: 'Request' }),
      headerTable('Request headers', e.request.headers),
      bodyBlock('Request body', e.request),
      el('h3', { text: `Response: ${e.status}` }),
      headerTable('Response headers', e.response.headers),
      bodyBlock('Response body', e.response),
    );
  }

  // ---- filters ----

  let filterTimer = null;
  function applyFilters() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($('#filters'))) {
      const s = String(v).trim();
      if (s) q.set(k, s);
    }
    const next = q.toString();
    if (next === filterQuery) return;
    filterQuery = next;
    forgetEntries();
    if (signedIn) poll();
  }
  $('#filters').addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(applyFilters, 300);
  });
  $('#filters').addEventListener('submit', (e) => { e.preventDefault(); applyFilters(); });
  $('#filters').addEventListener('reset', () => setTimeout(applyFilters, 0));

  // ---- state ----

  function renderState(s) {
    if (journalOff !== !s.journal_enabled) {
      journalOff = !s.journal_enabled;
      renderRequests();
    }
    $('#clock').textContent = s.now;
    $('#clock').setAttribute('datetime', s.now);
    $('#clock-offset').textContent = s.clock_offset_seconds > 0 ? `(advanced ${s.clock_offset_seconds} s)` : '';
    const ids = s.accounts.map((a) => a.id).join('\u0000');
    if (ids !== accountsKnown) {
      accountsKnown = ids;
      for (const sel of [$('#reset-account'), $('#filter-account')]) {
        const keep = sel.value;
        const first = sel.options[0];
        sel.replaceChildren(first, ...s.accounts.map((a) => el('option', { value: a.id, text: a.id })));
        sel.value = keep;
      }
    }
    $('#tokens tbody').replaceChildren(...s.tokens.map((t) => el('tr', {},
      el('td', { class: 'mono', text: t.token ? `…${t.token}` : '(short token)' }),
      el('td', { text: t.account }),
      el('td', { text: t.plan }),
      el('td', {},
        el('meter', { min: '0', max: String(t.limit), value: String(t.remaining), 'aria-label': `Remaining for …${t.token || ''}` }),
        el('span', { class: 'num', text: ` ${t.remaining} / ${t.limit}` })),
      el('td', { text: t.next_rise_at ? t.next_rise_at : 'full' }))));
    $('#accounts').replaceChildren(...s.accounts.map(accountBlock));
  }

  function accountBlock(a) {
    const shown = a.codes.length < a.code_count ? ` (newest ${a.codes.length} shown)` : '';
    return el('section', { class: 'account', 'aria-label': `Account ${a.id}` },
      el('h4', { text: `${a.id}: ${plural(a.code_count, 'code', 'codes')}${shown}` }),
      a.codes.length === 0 ? null : el('ul', { class: 'codes' }, ...a.codes.map(codeCard)));
  }

  function shares(title, list, key) {
    const total = list.reduce((n, x) => n + x.scans, 0);
    if (total === 0) return el('p', { class: 'note', text: `${title}: no scans in the window.` });
    const bar = el('div', { class: 'shares', 'aria-hidden': 'true' });
    const words = [];
    list.forEach((x, i) => {
      const pct = (100 * x.scans) / total;
      const part = el('span', { class: `share c${i % 6}`, title: `${x[key]} ${pct.toFixed(0)}%` });
      part.style.width = `${pct}%`;
      bar.append(part);
      words.push(`${x[key]} ${pct.toFixed(0)}%`);
    });
    return el('div', {}, el('p', { class: 'share-text', text: `${title}: ${words.join(' · ')}` }), bar);
  }

  function codeCard(c) {
    const r = c.scans;
    const daily = r.daily || [];
    const max = daily.reduce((m, d) => Math.max(m, d.scans), 0);
    const chart = el('div', {
      class: 'bars', role: 'img',
      'aria-label': `Daily scans of ${c.shortcode} over the last ${daily.length} days: ${r.window_scans || 0} in all, at most ${max} a day`,
    });
    for (const d of daily) {
      const b = el('span', { class: 'bar', title: `${d.date}: ${d.scans}` });
      b.style.height = max > 0 ? `${Math.max(2, (100 * d.scans) / max)}%` : '0';
      chart.append(b);
    }
    return el('li', { class: 'code' },
      el('p', {}, el('span', { class: 'mono strong', text: c.shortcode }), ' → ',
        el('span', { class: 'mono target', text: c.target_url }),
        el('span', { class: `badge ${c.status}`, text: c.status })),
      el('p', { class: 'note', text: `${r.total_scans} scans in all, ${r.window_scans || 0} in the last 30 days` }),
      chart,
      shares('Countries', r.countries || [], 'country'),
      shares('Devices', r.devices || [], 'device'));
  }

  // ---- controls ----

  function controlStatus(text) {
    $('#control-status').textContent = text;
  }

  async function control(action, done) {
    try {
      await action();
      controlStatus(done);
      poll();
    } catch (err) {
      if (err instanceof Unauthorized) askToken('The mock asked for the admin token again.');
      else controlStatus(`Failed: ${err.message}`);
    }
  }

  $('#reset-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const account = $('#reset-account').value;
    const path = account ? `/_mock/reset?${new URLSearchParams({ account })}` : '/_mock/reset';
    control(async () => {
      await call('POST', path);
      forgetEntries();
    }, account ? `Account ${account} reset.` : 'Everything reset.');
  });

  $('#clock-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const seconds = Number($('#clock-seconds').value);
    control(() => call('POST', '/_mock/clock/advance', { seconds }), `Clock advanced by ${seconds} s.`);
  });

  $('#clear-journal').addEventListener('click', () => {
    control(async () => {
      await call('DELETE', '/_mock/requests');
      forgetEntries();
    }, 'Journal cleared.');
  });

  document.addEventListener('visibilitychange', () => { if (!document.hidden && signedIn) poll(); });

  start();
})();
