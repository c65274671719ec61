// chatd web console (issue 15): plain ES2020, no framework, no build step. It signs in through
// POST /console/session (the token goes in that body only and comes back as an HttpOnly cookie), lists the
// user's chats live from the watch socket, and follows one chat's stream with @chatd/client's browser bundle
// (served by the replica at /console/chatd-client.js): its cursor (after_id + run_id/after_seq), frame
// decoding and resume, authenticated by the same cookie. Tool calls and results show as lines of their own
// (tool-parts.js); files attach from the composer and images show inline from blob URLs (file-parts.js).
// Everything the server sends is rendered with textContent, never as HTML.
import { createChatClient, isChatdClientError } from '/console/chatd-client.js';
import { collectToolResults, createLiveTools, renderMessageContent, renderPendingCalls } from '/console/tool-parts.js';
import { createFileUrlCache, editedContent, renderFilePart, uploadMediaType } from '/console/file-parts.js';

const API = '/api/experimental/chats';
/** Replica list refresh period (only when the replica serves GET /replicas). */
const REPLICAS_REFRESH_MS = 3000;
/** Reconnect backoff of both sockets: first retry, then doubling to the cap. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5000;

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
};

/** Makes an element with text content (never HTML) and optional class names. */
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

const short = (id) => (typeof id === 'string' ? id.slice(0, 8) : '');

const state = {
  replicaId: '',
  user: null,
  features: { replicas: false },
  /** @type {Map<string, any>} chat id -> Chat */
  chats: new Map(),
  selected: null,
  /** @type {ReturnType<typeof openChatStream> | null} */
  stream: null,
  watch: null,
  replicas: null,
  replicasTimer: 0,
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the API with the session cookie; throws ApiError on an error answer (and shows sign-in on 401). */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/console/session') signedOut('Your session has ended; sign in again.');
    throw new ApiError(res.status, (data && typeof data.message === 'string' && data.message) || `HTTP ${res.status}`);
  }
  return data;
}

const wsUrl = (path) => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
const backoff = (failures) => (failures <= 0 ? 0 : Math.min(RECONNECT_FIRST_MS * 2 ** (failures - 1), RECONNECT_MAX_MS));

// ---------------------------------------------------------------------------------------------------
// Session

async function start() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signout').addEventListener('click', onSignOut);
  $('new-chat').addEventListener('submit', onCreateChat);
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    void onSend('queue');
  });
  $('send-interrupt').addEventListener('click', () => void onSend('interrupt'));
  // Ctrl/⌘+Enter sends (queued), as the first button does.
  $('message-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void onSend('queue');
    }
  });
  $('interrupt').addEventListener('click', () => void onInterrupt());
  $('archive').addEventListener('click', () => void onArchive());
  $('send-tool-results').addEventListener('click', () => void onSendToolResults());
  const me = await api('GET', '/console/whoami');
  state.replicaId = me.replica_id;
  state.features = me.features || { replicas: false };
  $('serving').textContent = `served by replica ${short(me.replica_id)}`;
  $('serving').title = `This page and its API calls are served by replica ${me.replica_id}`;
  if (me.user && location.hash !== '#signin') signedIn(me.user);
  else showSignIn('');
}

function showSignIn(message) {
  $('app').hidden = true;
  $('signout').hidden = true;
  $('user').textContent = '';
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('signin-token').focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const input = $('signin-token');
  const token = input.value.trim();
  if (!token) return;
  $('signin-error').textContent = '';
  try {
    const me = await api('POST', '/console/session', { token });
    input.value = '';
    if (location.hash) history.replaceState(null, '', location.pathname);
    signedIn(me.user);
  } catch (err) {
    $('signin-error').textContent = err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : `Sign-in failed: ${err.message}`;
  }
}

async function onSignOut() {
  // Close the sockets and stop the timers first: the server closes sockets of a revoked session, and a watch or
  // stream that reconnected (or re-listed) in the meantime would meet a 401 before the page shows it signed out.
  stopLive();
  try {
    await api('DELETE', '/console/session');
    signedOut('');
  } catch (err) {
    signedOut(`Sign-out failed (${err.message}); the session cookie may remain until the browser closes.`);
  }
}

function signedIn(user) {
  state.user = user;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  $('user').textContent = `${user.username}${user.admin ? ' (admin)' : ''}`;
  openWatch();
  refreshReplicas();
}

/** Stops everything that talks to the server on its own: the watch and stream sockets and the replicas timer. */
function stopLive() {
  state.watch?.close();
  state.watch = null;
  state.stream?.close();
  state.stream = null;
  clearTimeout(state.replicasTimer);
}

function signedOut(message) {
  if (!state.user && !$('signin').hidden) return;
  state.user = null;
  stopLive();
  state.selected = null;
  state.chats.clear();
  renderChatList();
  renderDetail();
  showSignIn(message);
}

// ---------------------------------------------------------------------------------------------------
// Chat list: a snapshot from GET, then live ChatEvents from the watch socket (re-listed on every reconnect).

function openWatch() {
  let ws = null;
  let closed = false;
  let failures = 0;
  let timer = 0;
  const setState = (text) => ($('watch-state').textContent = text);
  const connect = () => {
    setState('connecting');
    let delivered = false;
    ws = new WebSocket(wsUrl(`${API}/watch`));
    ws.onopen = () => {
      setState('live');
      failures = 0;
      delivered = true;
      void reloadChats();
    };
    ws.onmessage = (m) => {
      let event;
      try {
        event = JSON.parse(m.data);
      } catch {
        return;
      }
      if (!event || typeof event !== 'object' || !event.chat || typeof event.chat.id !== 'string') return;
      if (event.kind === 'deleted' || event.chat.archived) removeChat(event.chat.id);
      else upsertChat(event.chat);
      replicasChanged();
    };
    ws.onclose = () => {
      if (closed) return;
      failures = delivered ? 1 : failures + 1;
      const delay = backoff(failures);
      // A browser cannot read a refused upgrade's status: after a few refusals, ask whether the session ended.
      if (failures >= 3) {
        api('GET', '/console/whoami')
          .then((me) => !me.user && signedOut('Your session has ended; sign in again.'))
          .catch(() => {});
      }
      setState(`reconnecting in ${Math.ceil(delay / 100) / 10}s`);
      timer = setTimeout(connect, delay);
    };
  };
  connect();
  state.watch = {
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close(1000);
    },
  };
}

async function reloadChats() {
  try {
    const list = await api('GET', `${API}?limit=200`);
    const seen = new Set();
    for (const chat of list) {
      seen.add(chat.id);
      upsertChat(chat, false);
    }
    for (const id of [...state.chats.keys()]) if (!seen.has(id)) state.chats.delete(id);
    renderChatList();
    renderDetail();
    renderReplicas();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) setNotice(`Could not list chats: ${err.message}`);
  }
}

function upsertChat(chat, render = true) {
  const old = state.chats.get(chat.id);
  // Watch events may omit fields the list had (e.g. diff_status): keep what is known.
  state.chats.set(chat.id, old ? { ...old, ...chat } : chat);
  if (render) {
    renderChatList();
    if (state.selected === chat.id) renderDetail();
    renderReplicas();
  }
}

function removeChat(id) {
  state.chats.delete(id);
  if (state.selected === id) select(null);
  renderChatList();
  renderReplicas();
}

function renderChatList() {
  const list = $('chat-list');
  const chats = [...state.chats.values()].sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
  list.replaceChildren(
    ...chats.map((chat) => {
      const li = el('li');
      li.dataset.chatId = chat.id;
      if (chat.id === state.selected) li.classList.add('selected');
      const button = el('button', undefined, 'link');
      button.type = 'button';
      button.addEventListener('click', () => select(chat.id));
      const sub = el('span', undefined, 'sub');
      const status = el('span', chat.status, 'status');
      status.dataset.status = chat.status;
      sub.append(status);
      if (chat.worker_id) sub.append(el('span', `on ${replicaLabel(chat.worker_id)}`));
      if (chat.worker_id && chat.worker_id !== state.replicaId) sub.append(el('span', 'relay'));
      button.append(el('span', chat.title, 'title'), sub);
      li.append(button);
      return li;
    }),
  );
  $('chat-list-empty').hidden = chats.length > 0;
}

// ---------------------------------------------------------------------------------------------------
// Replicas panel: GET /replicas when the replica has the registry (enterprise), else this replica alone.

let replicasBusy = false;
let replicasAgain = false;
let replicasSoon = 0;

/** Re-reads the replica list now (one request at a time), then every REPLICAS_REFRESH_MS. */
async function refreshReplicas() {
  if (replicasBusy) {
    replicasAgain = true;
    return;
  }
  clearTimeout(state.replicasTimer);
  if (!state.user) return;
  if (!state.features.replicas) {
    state.replicas = null;
    $('replica-note').textContent = 'This replica has no replica registry; only it is shown.';
    renderReplicas();
    return;
  }
  replicasBusy = true;
  try {
    state.replicas = await api('GET', `${API}/replicas`);
    $('replica-note').textContent = '';
  } catch (err) {
    state.replicas = null;
    $('replica-note').textContent = `Replica list unavailable: ${err.message}`;
  } finally {
    replicasBusy = false;
  }
  if (!state.user) return;
  renderReplicas();
  renderChatList();
  renderDetail();
  if (replicasAgain) {
    replicasAgain = false;
    void refreshReplicas();
    return;
  }
  state.replicasTimer = setTimeout(refreshReplicas, REPLICAS_REFRESH_MS);
}

/** A chat changed: its replica's running count did too; refresh soon (coalescing bursts of events). */
function replicasChanged() {
  if (!state.features.replicas || replicasSoon) return;
  replicasSoon = setTimeout(() => {
    replicasSoon = 0;
    void refreshReplicas();
  }, 200);
}

/** The host:port a registry entry is reached at (its relay address), or undefined. */
function replicaHost(r) {
  try {
    return r && typeof r.relay_address === 'string' ? new URL(r.relay_address).host : undefined;
  } catch {
    return undefined;
  }
}

function replicaLabel(id) {
  if (id === state.replicaId) return 'this replica';
  const host = replicaHost((state.replicas || []).find((r) => r.id === id));
  return host ? `replica ${host} (${short(id)})` : `replica ${short(id)}`;
}

function renderReplicas() {
  const replicas = state.replicas || [{ id: state.replicaId, worker: undefined, running_chats: undefined }];
  $('replica-list').replaceChildren(
    ...replicas.map((r) => {
      const li = el('li');
      li.dataset.replicaId = r.id;
      if (r.id === state.replicaId) li.classList.add('self');
      const host = replicaHost(r) || (r.id === state.replicaId ? location.host : undefined);
      const bits = [host ? `${host} · ${short(r.id)}` : short(r.id)];
      if (r.id === state.replicaId) bits.push('(serving this page)');
      if (r.worker === false) bits.push('no worker');
      if (typeof r.running_chats === 'number') bits.push(`${r.running_chats} running`);
      li.append(el('span', bits.join(' · ')));
      const mine = [...state.chats.values()].filter((c) => c.worker_id === r.id);
      if (mine.length) {
        const ul = el('ul');
        ul.append(...mine.map((c) => el('li', `${c.title} (${c.status})`)));
        li.append(ul);
      }
      return li;
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// One chat's stream: @chatd/client reconnects by itself with the cursor; each message and part is handled once.

/** The client of this page's replica: same origin, the session cookie authenticates its sockets. */
const client = createChatClient({ reconnect: { minDelayMs: RECONNECT_FIRST_MS, maxDelayMs: RECONNECT_MAX_MS, random: () => 1 } });
/** Images of file parts: downloaded once with the session cookie, shown by blob URL. */
const fileUrl = createFileUrlCache((id) => client.getFile(id), (blob) => URL.createObjectURL(blob));
const renderFile = (part) => renderFilePart(document, part, fileUrl);

/** Opens a chat's stream; `onEvent` sees each new event once, `onState` the connection state. */
function openChatStream(chatId, onEvent, onState) {
  const stop = new AbortController();
  onState('connecting');
  (async () => {
    for await (const e of client.stream(chatId, {
      signal: stop.signal,
      onOpen: () => onState('live'),
      onReconnect: (end) => onState(end.delayMs ? `reconnecting in ${Math.ceil(end.delayMs / 100) / 10}s` : 'reconnecting'),
    })) {
      onEvent(e);
    }
  })().catch((err) => {
    // Refused for good (the chat is gone or the session ended): the client asked the REST API why.
    if (stop.signal.aborted) return;
    if (isChatdClientError(err, 'UNAUTHORIZED')) signedOut('Your session has ended; sign in again.');
    onState(`closed: ${err.message}`);
  });
  return {
    close() {
      stop.abort();
    },
  };
}

function select(chatId) {
  if (state.selected === chatId && state.stream) return;
  state.stream?.close();
  state.stream = null;
  state.selected = chatId;
  $('messages').replaceChildren();
  shownMessages.clear();
  $('queue').replaceChildren();
  $('queue-box').hidden = true;
  setPending(null);
  setLive(null);
  setNotice('');
  $('composer-error').textContent = '';
  renderChatList();
  renderDetail();
  if (!chatId) return;
  // Refresh the chat itself (diff status, worker) beside the stream.
  api('GET', `${API}/${encodeURIComponent(chatId)}`)
    .then((chat) => state.selected === chatId && upsertChat(chat))
    .catch(() => {});
  state.stream = openChatStream(
    chatId,
    (e) => state.selected === chatId && onStreamEvent(e),
    (s) => state.selected === chatId && ($('chat-stream-state').textContent = s),
  );
}

/** The assistant reply being streamed: its run, text and tool parts so far. */
let live = null;

function setLive(next) {
  live = next;
  $('live').hidden = !live;
  renderLive();
  if (live) $('live').dataset.runId = live.runId;
}

function renderLive() {
  $('live-text').textContent = live ? live.text : '';
  $('live-text').hidden = !!live && live.text === '' && live.tools.size > 0;
  $('live-tools').replaceChildren(...(live ? live.tools.render(document) : []));
}

function partText(part) {
  return part && (part.type === 'text' || part.type === 'reasoning') && typeof part.text === 'string' ? part.text : '';
}

function onStreamEvent(e) {
  const chat = state.chats.get(state.selected);
  switch (e.type) {
    case 'message': {
      const m = e.message;
      // The durable message (a step's assistant message, or its tool message) replaces the parts streamed for it.
      if (m.role === 'assistant' || m.role === 'tool') setLive(null);
      if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'tool') return;
      const li = el('li', undefined, `message ${m.role}`);
      li.dataset.messageId = String(m.id);
      li.append(el('div', m.role, 'role'), ...renderMessageContent(document, m.content, renderFile));
      if (m.role === 'user') {
        const edit = el('button', 'Edit', 'link message-action edit-message');
        edit.type = 'button';
        edit.addEventListener('click', () => startEdit(li, m));
        li.append(edit);
      }
      shownMessages.set(m.id, m);
      $('messages').append(li);
      renderRegenerate();
      return;
    }
    case 'message_part': {
      const p = e.message_part;
      if (!live || live.runId !== p.run_id) setLive({ runId: p.run_id, text: '', tools: createLiveTools() });
      if (!live.tools.apply(p.part)) live.text += partText(p.part);
      renderLive();
      return;
    }
    case 'status':
      if (chat) upsertChat({ ...chat, status: e.status.status });
      // Any other status means the pending calls were answered (here, elsewhere, by the deadline or a cancel).
      if (e.status.status !== 'requires_action') setPending(null);
      if (e.status.status === 'running' || e.status.status === 'pending') setNotice('');
      return;
    case 'queue_update': {
      const queued = e.queued_messages || [];
      $('queue').replaceChildren(...queued.map((q) => el('li', (q.content || []).map(partText).join(''))));
      $('queue-box').hidden = queued.length === 0;
      return;
    }
    case 'action_required':
      setPending(e.action_required.tool_calls);
      return;
    case 'history_reset':
      // An edit replaced part of the history: the whole visible history follows again as messages.
      $('messages').replaceChildren();
      shownMessages.clear();
      setLive(null);
      return;
    case 'discontinuity':
      // The in-flight parts are gone; the server sends the durable messages after resync_after_id next.
      setLive(null);
      setNotice(`Stream resynchronised (${e.discontinuity.reason}); the reply in progress was dropped.`);
      return;
    case 'error':
      setNotice(`Error: ${e.error.message}`);
      return;
    case 'retry':
      setNotice(`The model failed (${e.retry.error}); retrying in ${Math.round(e.retry.delay_ms / 100) / 10}s (attempt ${e.retry.attempt}).`);
      return;
    default:
      return;
  }
}

/** The messages shown for the selected chat, by id: what "Edit" and "Regenerate" start from. */
const shownMessages = new Map();

/** Turns a user message into a small form: its text, Save (the edit: it and every later message are replaced) and Cancel. */
function startEdit(li, m) {
  if (li.querySelector('form')) return;
  const form = el('form', undefined, 'edit-form');
  const box = el('textarea', undefined, 'edit-text');
  box.rows = 3;
  box.value = (m.content || []).map(partText).join('');
  const save = el('button', 'Save edit', 'save-edit');
  save.type = 'submit';
  const cancel = el('button', 'Cancel', 'danger cancel-edit');
  cancel.type = 'button';
  const buttons = el('div', undefined, 'buttons');
  buttons.append(save, cancel);
  form.append(box, buttons);
  cancel.addEventListener('click', () => form.remove());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The message's files stay with it: only its text is edited here.
    const content = editedContent(box.value, m.content);
    if (content) void editMessage(m.id, content);
  });
  li.append(form);
  box.focus();
}

/** `PATCH /{chat}/messages/{id}`: the stream then sends history_reset and the new history, which re-renders the list. */
async function editMessage(messageId, content) {
  const chatId = state.selected;
  if (!chatId) return;
  $('composer-error').textContent = '';
  try {
    await api('PATCH', `${API}/${encodeURIComponent(chatId)}/messages/${encodeURIComponent(String(messageId))}`, { content });
  } catch (err) {
    if (state.selected === chatId) $('composer-error').textContent = `Not edited: ${err.message}`;
  }
}

/** "Regenerate" sits on the last reply when the newest message is an assistant's: an edit of the last user message with its own content. */
function renderRegenerate() {
  for (const b of $('messages').querySelectorAll('.regenerate')) b.remove();
  const last = $('messages').lastElementChild;
  if (!last || !last.classList.contains('assistant')) return;
  const lastId = Number(last.dataset.messageId);
  const user = [...shownMessages.values()].filter((m) => m.role === 'user' && m.id < lastId).at(-1);
  if (!user) return;
  const button = el('button', 'Regenerate', 'link message-action regenerate');
  button.type = 'button';
  button.addEventListener('click', () => void editMessage(user.id, user.content));
  last.append(button);
}

/** The client-executed calls the selected chat waits for (`requires_action`), each with a JSON box; null hides them. */
function setPending(toolCalls) {
  const calls = Array.isArray(toolCalls) && toolCalls.length ? toolCalls : null;
  $('pending-box').hidden = !calls;
  $('pending-calls').replaceChildren(...(calls ? renderPendingCalls(document, calls) : []));
  $('pending-error').textContent = '';
  $('send-tool-results').disabled = false;
}

/** Submits every pending call's box at once (the route wants all of them); refuses invalid JSON in the page. */
async function onSendToolResults() {
  const chatId = state.selected;
  if (!chatId) return;
  const answers = [...$('pending-calls').querySelectorAll('.tool-pending')].map((div) => ({
    tool_call_id: div.dataset.toolCallId,
    tool_name: div.dataset.toolName,
    text: div.querySelector('textarea.tool-answer').value,
    isError: div.querySelector('input.tool-answer-error').checked,
  }));
  const collected = collectToolResults(answers);
  if (collected.error) {
    $('pending-error').textContent = collected.error;
    return;
  }
  $('pending-error').textContent = '';
  const button = $('send-tool-results');
  button.disabled = true;
  try {
    await api('POST', `${API}/${encodeURIComponent(chatId)}/tool-results`, { results: collected.results });
    if (state.selected !== chatId) return;
    setPending(null);
    // 204: the turn goes on; refresh the chat (its status) beside the stream, which brings the rest.
    const chat = await api('GET', `${API}/${encodeURIComponent(chatId)}`);
    if (state.selected === chatId) upsertChat(chat);
  } catch (err) {
    if (state.selected === chatId) $('pending-error').textContent = `Results not sent: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

function setNotice(text) {
  $('chat-notice').textContent = text;
  $('chat-notice').hidden = !text;
}

function renderDetail() {
  const chat = state.selected ? state.chats.get(state.selected) : undefined;
  $('chat-empty').hidden = !!state.selected;
  $('chat-detail').hidden = !state.selected;
  $('app').classList.toggle('has-chat', !!state.selected);
  if (!chat) return;
  $('chat-title').textContent = chat.title;
  const status = $('chat-status');
  status.textContent = chat.status;
  status.dataset.status = chat.status;
  const lastError = chat.status === 'error' && chat.last_error && typeof chat.last_error.message === 'string' ? chat.last_error.message : '';
  $('chat-error-label').hidden = !lastError;
  $('chat-error').hidden = !lastError;
  $('chat-error').textContent = lastError;
  const worker = chat.worker_id;
  $('chat-worker').textContent = worker ? `${replicaLabel(worker)} (${worker})` : 'no replica (idle)';
  const delivery = $('chat-delivery');
  delivery.dataset.relay = worker ? String(worker !== state.replicaId) : '';
  delivery.textContent = !worker ? '—' : worker === state.replicaId ? 'directly (this replica generates the chat)' : `by relay from ${replicaLabel(worker)}`;
  // Present once the chat has a git reference (PUT /{chat}/git); counts fill in when its pull request is found.
  const diff = chat.diff_status;
  $('chat-diff-label').hidden = !diff;
  $('chat-diff').hidden = !diff;
  if (diff) {
    const files = Number(diff.changed_files) || 0;
    const bits = [`+${Number(diff.additions) || 0} −${Number(diff.deletions) || 0} in ${files} file${files === 1 ? '' : 's'}`];
    bits.push(diff.pull_request_state ? `PR ${diff.pull_request_state}` : 'no pull request yet');
    if (diff.changes_requested) bits.push('changes requested');
    bits.push(diff.refreshed_at ? `checked ${new Date(diff.refreshed_at).toLocaleTimeString()}` : 'not checked yet');
    const dd = $('chat-diff');
    dd.replaceChildren(el('span', bits.join(' · ')));
    if (typeof diff.url === 'string' && /^https:\/\//.test(diff.url)) {
      const a = el('a', diff.url);
      a.href = diff.url;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      dd.append(' ', a);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Actions

async function onCreateChat(event) {
  event.preventDefault();
  const input = $('new-chat-text');
  const text = input.value.trim();
  if (!text) return;
  const button = event.submitter || null;
  if (button) button.disabled = true;
  try {
    const chat = await api('POST', API, { content: text });
    input.value = '';
    upsertChat(chat);
    select(chat.id);
  } catch (err) {
    setNotice(`Could not create the chat: ${err.message}`);
  } finally {
    if (button) button.disabled = false;
  }
}

async function onSend(busyBehavior) {
  const chatId = state.selected;
  const input = $('message-text');
  const picker = $('message-files');
  const text = input.value.trim();
  const files = Array.from(picker.files || []);
  if (!chatId || (!text && files.length === 0)) return;
  $('composer-error').textContent = '';
  try {
    // Each chosen file is uploaded first (POST /files with its own type), then named by a part after the text.
    const content = text ? [{ type: 'text', text }] : [];
    for (const file of files) {
      const mediaType = uploadMediaType(file);
      if (!mediaType) throw new Error(`${file.name}: this file type cannot be attached`);
      const { id } = await client.uploadFile(file, { mediaType, name: file.name });
      content.push({ type: 'file', file_id: id });
    }
    await api('POST', `${API}/${encodeURIComponent(chatId)}/messages`, { content, busy_behavior: busyBehavior });
    input.value = '';
    picker.value = '';
  } catch (err) {
    $('composer-error').textContent = `Not sent: ${err.message}`;
  }
}

async function onInterrupt() {
  const chatId = state.selected;
  if (!chatId) return;
  try {
    const chat = await api('POST', `${API}/${encodeURIComponent(chatId)}/interrupt`);
    upsertChat(chat);
  } catch (err) {
    $('composer-error').textContent = `Interrupt failed: ${err.message}`;
  }
}

async function onArchive() {
  const chatId = state.selected;
  if (!chatId) return;
  try {
    await api('PATCH', `${API}/${encodeURIComponent(chatId)}`, { archived: true });
    removeChat(chatId);
  } catch (err) {
    $('composer-error').textContent = `Archive failed: ${err.message}`;
  }
}

start().catch((err) => {
  document.body.prepend(el('p', `The console could not start: ${err.message}`, 'error'));
});
