// The weir dashboard's page: a list of rollouts and one rollout's page, drawn
// with DOM calls and textContent only (never markup from data), refreshed on
// the server's `change` events. Actions send the token in a header.
'use strict';

const TOKEN_KEY = 'weir-dashboard-token';
const ACTIONS = [
  { type: 'approve', label: 'Approve' },
  { type: 'pause', label: 'Pause' },
  { type: 'resume', label: 'Resume' },
  { type: 'promote', label: 'Promote one stage' },
  { type: 'promote', full: true, label: 'Promote fully', danger: true },
  { type: 'abort', label: 'Abort (roll back)', danger: true },
  { type: 'retry', label: 'Retry' },
];

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(
      typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child,
    );
  }
  return node;
}

function table(caption, header, rows, numeric = []) {
  return el(
    'table',
    {},
    el('caption', { class: 'visually-hidden' }, caption),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        header.map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          r.map((c, i) => el('td', numeric.includes(i) ? { class: 'num' } : {}, c)),
        ),
      ),
    ),
  );
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

const lastProblem = { fromRender: false };
/** Shows a problem in words (empty: none); `fromRender` marks one a later good redraw clears. */
function showProblem(message, fromRender = false) {
  const box = document.getElementById('problem');
  box.textContent = message || '';
  box.hidden = !message;
  lastProblem.fromRender = Boolean(message) && fromRender;
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

const fmt = (v, digits = 3) =>
  typeof v === 'number' && Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : '-';
const weights = (w) =>
  Object.entries(w)
    .map(([v, n]) => `${v} ${n}%`)
    .join(', ');
function ago(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  return seconds < 120
    ? `${seconds}s`
    : seconds < 7200
      ? `${Math.floor(seconds / 60)}m`
      : `${Math.floor(seconds / 3600)}h`;
}

/** The rollout the address names (#/rollout/KEY), or null for the list; throws on a malformed KEY. */
function keyFromHash() {
  const m = /^#\/rollout\/(.+)$/.exec(location.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    throw new Error(`The address names no rollout: "${m[1]}" is not a readable rollout key.`);
  }
}

async function renderList(main) {
  const data = await getJson('/api/rollouts');
  document.getElementById('where').textContent =
    `${data.mode === 'local' ? 'local store' : 'Kubernetes'}: ${data.where}`;
  const rows = data.rows.map((r) => [
    el('a', { href: `#/rollout/${encodeURIComponent(r.key)}` }, r.name),
    r.namespace || '-',
    r.model || '-',
    el('span', { class: `phase phase-${r.phase}` }, r.phase),
    r.stage || '-',
    weights(r.weights) || '-',
    ago(r.secondsInStage),
    el('span', { class: 'waiting' }, r.waitingFor),
  ]);
  main.replaceChildren(
    el('h2', {}, 'Rollouts'),
    data.rows.length === 0
      ? el('p', {}, `No rollouts in ${data.where}.`)
      : table(
          'Every rollout and experiment',
          ['Name', 'Namespace', 'Model', 'Phase', 'Stage', 'Weights', 'In stage', 'Waiting for'],
          rows,
        ),
  );
}

async function act(key, action, button) {
  showProblem('');
  if (!token()) {
    document.getElementById('token-form').hidden = false;
    document.getElementById('token').focus();
    showProblem('Enter the token weir dashboard printed at start, then try again.');
    return;
  }
  if (action.danger && !window.confirm(`${action.label}: ${key}?`)) return;
  button.disabled = true;
  try {
    const query = new URLSearchParams({ key, type: action.type, ...(action.full ? { full: 'true' } : {}) });
    const res = await fetch(`/api/command?${query}`, { method: 'POST', headers: { 'x-weir-token': token() } });
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) {
      if (res.status === 401) document.getElementById('token-form').hidden = false;
      showProblem(`${action.label} refused: ${body.error}`);
    } else {
      document.getElementById('live').textContent = body.message;
      await render();
    }
  } catch (err) {
    showProblem(`${action.label} failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function renderRollout(main, key) {
  const page = await getJson(`/api/rollout?key=${encodeURIComponent(key)}`);
  const row = page.row;
  const actions = el(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Commands' },
    ACTIONS.map((a) => {
      const button = el(
        'button',
        { type: 'button', class: a.danger ? 'danger' : undefined, 'data-action': a.full ? 'promote-full' : a.type },
        a.label,
      );
      button.addEventListener('click', () => act(key, a, button));
      return button;
    }),
  );
  const verdictRows = page.verdicts.map((r) => [
    r.metric || '-',
    r.kind,
    el('span', { class: `verdict-${r.verdict}` }, r.verdict),
    fmt(r.effect ?? r.value),
    r.ci ? `${fmt(r.ci[0])} to ${fmt(r.ci[1])}` : '-',
    fmt(r.adjustedPValue ?? r.pValue),
    r.samples ? `${Math.round(r.samples.stable)} / ${Math.round(r.samples.canary)}` : '-',
    r.message,
  ]);
  const charts = el(
    'div',
    { class: 'charts' },
    page.charts.map((c) =>
      el('img', {
        src: `/api/chart?${new URLSearchParams({ key, id: c.id, r: String(page.revision) })}`,
        alt: c.alt,
        'data-chart': c.id,
      }),
    ),
  );
  const parts = [
    el('p', {}, el('a', { href: '#/' }, '← all rollouts')),
    el('h2', {}, `${row.name} `, el('span', { class: `phase phase-${row.phase}`, id: 'phase' }, row.phase)),
    el('p', { class: 'waiting', id: 'waiting' }, row.waitingFor),
    el(
      'p',
      {},
      `Model ${row.model}; stable ${page.stable}; ${page.candidates.length > 1 ? 'candidates' : 'canary'} ${page.candidates.join(', ')}; weights ${weights(row.weights)}; in this stage ${ago(row.secondsInStage)}.`,
    ),
    actions,
    el('h3', {}, 'Stages'),
    el(
      'ol',
      { class: 'stages' },
      page.stages.map((s) =>
        el('li', { class: s.state, 'aria-current': s.state === 'current' ? 'step' : undefined }, s.label),
      ),
    ),
    el('h3', {}, 'Latest decision'),
    verdictRows.length
      ? table(
          'Guardrails and comparisons at the latest decision',
          ['Metric', 'Kind', 'Verdict', 'Effect / value', 'CI', 'p', 'Samples stable / canary', 'Message'],
          verdictRows,
        )
      : el('p', {}, 'No guardrail or comparison has been judged yet.'),
    page.sampleRatio ? el('p', { id: 'srm' }, `Sample ratio: ${page.sampleRatio.message}`) : null,
    page.arms.some((a) => a.pBest !== undefined)
      ? table(
          'Bandit arms',
          ['Version', 'Weight', 'Mean reward', 'Rewards', 'P(best)', 'Estimated regret'],
          page.arms.map((a) => [
            a.version,
            `${a.weight}%`,
            fmt(a.mean, 4),
            String(a.rewards ?? '-'),
            fmt(a.pBest),
            fmt(a.regret),
          ]),
          [1, 2, 3, 4, 5],
        )
      : null,
    page.winner ? el('p', {}, `Winner: ${page.winner}`) : null,
    el('h3', {}, 'Charts'),
    charts,
    el('h3', {}, 'History'),
    table(
      'Every step, who took it and when',
      ['At', 'Action', 'Weights', 'By', 'Summary'],
      page.history.map((h) => [
        h.at,
        h.action,
        h.weights ? weights(h.weights) : `canary ${h.canaryWeight}%`,
        h.by || '-',
        h.summary,
      ]),
    ),
    page.approvals.length
      ? table(
          'Approvals',
          ['Stage', 'By', 'At'],
          page.approvals.map((a) => [String(a.stage), a.by, a.at]),
        )
      : null,
    page.pendingCommands.length
      ? table(
          'Commands not yet applied',
          ['Command', 'By', 'At'],
          page.pendingCommands.map((c) => [c.type, c.by, c.at]),
        )
      : null,
    page.refusedCommands.length
      ? table(
          'Refused commands',
          ['Command', 'By', 'At', 'Why'],
          page.refusedCommands.map((c) => [c.type, c.by, c.at, c.reason]),
        )
      : null,
    el(
      'p',
      {},
      el(
        'a',
        { href: `/report?${new URLSearchParams({ key })}`, target: '_blank', rel: 'noopener' },
        'Full report (weir report)',
      ),
    ),
  ];
  main.replaceChildren(...parts.filter((part) => part !== null));
}

let rendering = Promise.resolve();
/** Draws the page the address names; a failure is shown in words, in place of what was there. */
function render({ focusMain = false } = {}) {
  const run = async () => {
    const main = document.getElementById('main');
    // Keyboard focus survives a redraw: the same button, or the page after a move.
    const focused = document.activeElement?.getAttribute?.('data-action');
    try {
      const key = keyFromHash();
      if (key) await renderRollout(main, key);
      else await renderList(main);
      main.setAttribute('data-rendered', String(Date.now()));
      if (lastProblem.fromRender) showProblem('');
    } catch (err) {
      main.replaceChildren(el('p', {}, 'This page could not be shown. ', el('a', { href: '#/' }, 'All rollouts')));
      showProblem(err.message, true);
    }
    const again = focused && main.querySelector(`[data-action="${focused}"]`);
    if (again) again.focus();
    else if (focusMain) main.focus();
  };
  rendering = rendering.then(run, run);
  return rendering;
}

function start() {
  // A token in the address (#token=...) is kept for this tab only and taken out of the address.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    } catch {
      showProblem('The token in the address is not readable; paste it into the token field.');
    }
    history.replaceState(null, '', location.pathname + location.search + '#/');
  }
  const form = document.getElementById('token-form');
  form.hidden = Boolean(token());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
    document.getElementById('token').value = '';
    form.hidden = true;
    showProblem('');
  });
  window.addEventListener('hashchange', () => {
    showProblem('');
    render({ focusMain: true });
  });
  const live = document.getElementById('live');
  const events = new EventSource('/api/events');
  events.addEventListener('change', () => render());
  events.addEventListener('problem', (e) =>
    showProblem(`The store could not be read: ${JSON.parse(e.data).message}`, true),
  );
  events.addEventListener('open', () => (live.textContent = 'live'));
  events.addEventListener('error', () => {
    if (events.readyState !== EventSource.CLOSED) return void (live.textContent = 'reconnecting…');
    // Refused (too many pages listening, or the server went away): redraw every 5 s instead.
    live.textContent = 'not live: refreshing every 5 s';
    setInterval(() => render(), 5000);
  });
  render();
}

start();
