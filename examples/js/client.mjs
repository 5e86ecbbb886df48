// A client of the realtime marketplace server, written the way a mobile app should be:
// it follows the "Client lifecycle" section of docs/protocol.md step by step.
//
//   npm ci && node client.mjs http://localhost:8080 ada@example.com 'correct horse' --stay 30
//
// It signs in, connects, catches up on every (re)connect, refreshes its token before it
// expires, reacts to each disconnect reason and connect_error code, and makes one
// creating call with a clientRequestId, sent twice, to show that a retry changes nothing.
// Every step is printed as one JSON line, so a test (tests/test_deploys.py) can follow it.

import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";

const [base, email, password] = process.argv.slice(2);
const stayIndex = process.argv.indexOf("--stay");
const staySeconds = stayIndex > 0 ? Number(process.argv[stayIndex + 1]) : 10;
const say = (event, fields = {}) => console.log(JSON.stringify({ event, ...fields }));

// --- Tokens: sign in once, refresh before expiry, sign in again when refresh is refused.
let session = null;
let refreshTimer = null;

async function http(path, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, answer: await response.json() };
}

async function signIn() {
  const { status, answer } = await http("/api/auth/login", { email, password });
  if (status !== 200) throw new Error(`sign-in refused: ${answer.error.code}`);
  adopt(answer.data);
  say("signed-in", { userId: session.user.id });
}

async function refreshTokens() {
  const { status, answer } = await http("/api/auth/refresh", { refreshToken: session.refreshToken });
  if (status !== 200) return signIn(); // invalid_token: the session is over, sign in again
  adopt(answer.data);
  say("tokens-refreshed");
}

function adopt(data) {
  session = data;
  clearTimeout(refreshTimer);
  // Refresh at 80% of the access token's life and hand the new token to the live socket,
  // so the server never has to send session:expired.
  refreshTimer = setTimeout(async () => {
    await refreshTokens();
    if (socket?.connected) await socket.emitWithAck("auth:refresh", { accessToken: session.accessToken });
  }, session.expiresIn * 800);
}

// --- The socket: `auth` is a callback, so every reconnect sends the current token.
let socket = null;
const lastSeq = new Map(); // roomId → last message seq this client holds
const watchedTasks = new Set(); // per-socket subscriptions to send again after every connect
let connects = 0;
let caughtUpOnce;
const firstCatchUp = new Promise((resolve) => (caughtUpOnce = resolve));

function open() {
  socket = io(base, {
    transports: ["websocket"],
    auth: (send) => send({ token: session.accessToken }),
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });

  socket.on("connect", async () => {
    connects += 1;
    say("connect", { count: connects });
    await catchUp();
    say("caught-up", { count: connects, rooms: lastSeq.size });
    caughtUpOnce();
  });

  socket.on("disconnect", (reason) => {
    say("disconnect", { reason });
    // "io server disconnect" is deliberate (session:expired or session:revoked came first):
    // the client does not reconnect by itself, so do it once the tokens are sorted out.
    // Anything else ("transport close" during a deploy, "ping timeout") reconnects by itself.
  });

  socket.on("connect_error", async (error) => {
    const code = error.data?.code;
    say("connect_error", { message: error.message, code });
    if (code === "token_expired") await refreshTokens();
    else if (code === "invalid_token" || code === "session_revoked") await signIn();
    if (!socket.active) socket.connect(); // a refused connect is not retried by the client itself
  });

  socket.on("session:expired", async () => {
    say("session:expired");
    await refreshTokens();
    socket.connect();
  });

  socket.on("session:revoked", async ({ reason }) => {
    say("session:revoked", { reason });
    await signIn();
    socket.connect();
  });

  // Pushes arrive only while connected; anything missed is caught up in catchUp().
  socket.on("chat:message", ({ message }) => lastSeq.set(message.roomId, Math.max(lastSeq.get(message.roomId) ?? 0, message.seq)));
  socket.on("wallet:updated", (wallet) => say("wallet:updated", { balance: wallet.balance }));
}

// --- On every connect: subscriptions are per socket, and pushes are not queued for offline sockets.
async function catchUp() {
  for (const taskId of watchedTasks) await call("task:watch", { taskId });
  const { rooms } = await call("chat:rooms", { limit: 100 });
  for (const room of rooms) if (!lastSeq.has(room.id)) lastSeq.set(room.id, 0);
  if (lastSeq.size > 0) {
    const synced = await call("chat:sync", { rooms: [...lastSeq].map(([roomId, afterSeq]) => ({ roomId, afterSeq })) });
    for (const room of synced.rooms) for (const message of room.messages) lastSeq.set(room.roomId, message.seq);
  }
  const unread = await call("notifications:list", { unreadOnly: true, limit: 100 });
  say("notifications", { unread: unread.unreadCount });
  const wallet = await call("wallet:get");
  say("wallet", { balance: wallet.balance, held: wallet.held });
}

// --- Calls: every ack is an envelope; creating calls carry a clientRequestId and are retried on a lost ack.
async function call(event, payload = {}) {
  const answer = await socket.timeout(10_000).emitWithAck(event, payload);
  if (!answer.ok) throw new Error(`${event}: ${answer.error.code}`);
  return answer.data;
}

// One clientRequestId per intent, reused by every retry of it.
async function create(event, payload, { attempts = 3, clientRequestId = randomUUID() } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(event, { ...payload, clientRequestId });
    } catch (error) {
      if (attempt >= attempts || !String(error.message).includes("timed out")) throw error;
    }
  }
}

await signIn();
open();
await firstCatchUp;
if (session.user.role === "customer") {
  // A free plan holds one open listing (FREE_LISTING_LIMIT): this creates one task, and shows that sending the same
  // request again (what a retry after a lost ack does) returns that task instead of refusing or making a second.
  const clientRequestId = randomUUID();
  const body = { title: "Water the plants", description: "Twice a week", budget: 1000 };
  const first = await create("task:create", body, { clientRequestId });
  const again = await create("task:create", body, { clientRequestId });
  watchedTasks.add(first.task.id);
  await call("task:watch", { taskId: first.task.id });
  say("retried-create", { first: first.task.id, again: again.task.id, same: first.task.id === again.task.id });
}
say("ready");
await new Promise((resolve) => setTimeout(resolve, staySeconds * 1000));
clearTimeout(refreshTimer);
socket.close();
say("done", { connects });
process.exit(0);
