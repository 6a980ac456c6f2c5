// The benchmark's Socket.IO peer: the work of SkillLink's meeting-room chat, written the
// way the source paper's stack (Node.js + Socket.IO) would write it. Only the benchmark
// starts it (bench/compare.py); it is not part of SkillLink.
//
// Per socket, at connect (the Socket.IO CONNECT packet carries {token, booking}):
//   - verify the JWT exactly as SkillLink does: HS256 with the server's SECRET_KEY,
//     token_type "access", not expired; then load the user (must exist and be active);
//   - load the booking; the user must be its learner or teacher, the booking scheduled
//     or in progress, and now inside its room window (opens 10 min before the start,
//     closes 15 min after the end); join the room "booking:<id>";
//   - send the room frame with the last 500 messages (as SkillLink's "room" frame does).
// Per "chat.send" event:
//   - the sender must still be in the room and the window open; the text is cleaned as
//     SkillLink cleans it (line ends, trim, 1..2000 characters, no control characters);
//   - the per-user rate limit, counted in process memory (as SkillLink counts chat);
//   - INSERT INTO meetings_chatmessage (booking_id, sender_id, text, sent_at) RETURNING id,
//     and only then broadcast the message to the room. A socket's messages are saved and
//     broadcast in the order they were sent.
// Chat writes (CHAT_WRITES): "batched" (the default) is what SkillLink's chat writer does:
// one connection of its own, one prepared INSERT for everything that arrived while the
// previous one ran (plain VALUES up to 8 rows, unnest arrays above), a failed batch
// retried row by row. "each" is the plain way: one INSERT per message from the pool.
// With REDIS_URL the server uses @socket.io/redis-adapter, so rooms span processes.
//
// Environment: HOST, PORT, DATABASE_URL (PostgreSQL), SECRET_KEY, REDIS_URL (optional),
// REDIS_PREFIX, CHAT_RATE_LIMIT ("20/10"), DATABASE_POOL_MAX_SIZE (10), CHAT_WRITES,
// PING_INTERVAL_MS (20000).
"use strict";

const http = require("node:http");
const jwt = require("jsonwebtoken");
const { Client, Pool } = require("pg");
const { Server } = require("socket.io");

const HOST = process.env.HOST || "127.0.0.1";
const PORT = Number(process.env.PORT || 3000);
const SECRET_KEY = process.env.SECRET_KEY;
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL || "";
const REDIS_PREFIX = process.env.REDIS_PREFIX || "socket.io";
const [RATE_LIMIT, RATE_WINDOW_S] = (process.env.CHAT_RATE_LIMIT || "20/10").split("/").map(Number);
const OPENS_MS = Number(process.env.ROOM_OPENS_MINUTES || 10) * 60_000;
const GRACE_MS = Number(process.env.ROOM_GRACE_MINUTES || 15) * 60_000;
const CHAT_WRITES = process.env.CHAT_WRITES || "batched";
const CHAT_MAX_LENGTH = 2000;
const HISTORY_LIMIT = 500;
const ROOM_STATUSES = new Set(["scheduled", "in_progress"]);
// C0 controls but tab and newline, DEL and C1: the same set as skilllink/text.py.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

if (!SECRET_KEY || !DATABASE_URL) {
  console.error("SECRET_KEY and DATABASE_URL are required");
  process.exit(2);
}

const pool = new Pool({
  connectionString: DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_MAX_SIZE || 10),
});

const INSERT_CHAT = {
  name: "chat_insert",
  text:
    "INSERT INTO meetings_chatmessage (booking_id, sender_id, text, sent_at) " +
    "VALUES ($1, $2, $3, $4) RETURNING id",
};
const VALUES_MAX = 8; // as meetings/services.py: plain values up to 8 rows, arrays above
const MAX_BATCH = 500;
const INSERT_ARRAYS = {
  name: "chat_insert_arrays",
  text:
    "INSERT INTO meetings_chatmessage (booking_id, sender_id, text, sent_at)" +
    " SELECT b, s, t, a FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[])" +
    " WITH ORDINALITY AS rows(b, s, t, a, n) ORDER BY n RETURNING id",
};

function insertValues(rows) {
  const groups = rows.map((_, i) => `($${4 * i + 1}, $${4 * i + 2}, $${4 * i + 3}, $${4 * i + 4})`);
  return {
    name: `chat_insert_${rows.length}`,
    text:
      "INSERT INTO meetings_chatmessage (booking_id, sender_id, text, sent_at) VALUES " +
      groups.join(", ") +
      " RETURNING id",
    values: rows.flat(),
  };
}

// One statement for everything queued while the previous one ran (SkillLink's ChatWriter).
class ChatWriter {
  constructor() {
    this.queue = [];
    this.running = false;
    this.client = null;
  }

  submit(row) {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.running) this.run();
    });
  }

  async save(rows) {
    if (!this.client) {
      this.client = new Client({ connectionString: DATABASE_URL });
      this.client.on("error", () => {});
      try {
        await this.client.connect();
      } catch (err) {
        this.client = null;
        throw err;
      }
    }
    try {
      const query =
        rows.length <= VALUES_MAX
          ? insertValues(rows)
          : { ...INSERT_ARRAYS, values: [0, 1, 2, 3].map((c) => rows.map((r) => r[c])) };
      const result = await this.client.query(query);
      return result.rows.map((r) => Number(r.id));
    } catch (err) {
      if (err && !err.code) {
        this.client.end().catch(() => {});
        this.client = null; // a broken connection: the next batch opens a new one
      }
      throw err;
    }
  }

  async run() {
    this.running = true;
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const ids = await this.save(batch.map((item) => item.row));
        batch.forEach((item, i) => item.resolve(ids[i]));
      } catch (err) {
        if (batch.length === 1) {
          batch[0].reject(err);
          continue;
        }
        for (const item of batch) {
          try {
            item.resolve((await this.save([item.row]))[0]);
          } catch (rowErr) {
            item.reject(rowErr);
          }
        }
      }
    }
    this.running = false;
  }
}

const writer = new ChatWriter();

async function chatSave(row) {
  if (CHAT_WRITES === "each") {
    const result = await pool.query({ ...INSERT_CHAT, values: row });
    return Number(result.rows[0].id);
  }
  return writer.submit(row);
}

const SELECT_USER = {
  name: "user_by_id",
  text: "SELECT id, username, is_active FROM accounts_user WHERE id = $1",
};
const SELECT_BOOKING = {
  name: "booking_by_id",
  text: 'SELECT id, learner_id, teacher_id, status, start, "end" FROM scheduling_booking WHERE id = $1',
};
const SELECT_HISTORY = {
  name: "chat_history",
  text:
    "SELECT m.id, m.sender_id, u.username, m.text, m.sent_at FROM (" +
    "  SELECT id, sender_id, text, sent_at FROM meetings_chatmessage WHERE booking_id = $1" +
    "  ORDER BY sent_at DESC, id DESC LIMIT $2) m JOIN accounts_user u ON u.id = m.sender_id" +
    " ORDER BY m.sent_at, m.id",
};

function payload(id, senderId, senderName, text, sentAt) {
  return { id, sender: senderId, sender_name: senderName, text, sent_at: sentAt.toISOString() };
}

// The same fixed-window count per user as skilllink.ratelimit.rate_limit_hit_local.
const rateWindows = new Map();
function rateHit(userId, now) {
  const window = Math.floor(now / (RATE_WINDOW_S * 1000));
  const entry = rateWindows.get(userId);
  if (!entry || entry.window !== window) {
    rateWindows.set(userId, { window, count: 1 });
    return true;
  }
  entry.count += 1;
  return entry.count <= RATE_LIMIT;
}

function cleanText(value) {
  if (typeof value !== "string") return [null, '"text" must be a string.'];
  const text = value.replace(/\r\n/g, "\n").replace(/\r/g, "\n").trim();
  if (!text) return [null, "Type a message first."];
  if (CONTROL.test(text)) return [null, "Remove the control characters."];
  if (text.length > CHAT_MAX_LENGTH) return [null, `At most ${CHAT_MAX_LENGTH} characters.`];
  return [text, null];
}

function error(socket, code, detail) {
  socket.emit("error", { code, detail });
}

const httpServer = http.createServer((req, res) => {
  if (req.url === "/healthz/") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok");
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  transports: ["websocket"], // the benchmark's clients, like SkillLink's, speak WebSocket only
  serveClient: false,
  // uvicorn's WebSocket keep-alive defaults (20 s ping, 20 s timeout), so both servers
  // ping alike.
  pingInterval: Number(process.env.PING_INTERVAL_MS || 20_000),
  pingTimeout: 20_000,
  maxHttpBufferSize: 1024 * 1024, // SkillLink's server refuses frames above 1 MiB too
  perMessageDeflate: false, // SkillLink's server turns it off as well
});

// Authentication and the room check, before the connection is accepted.
io.use(async (socket, next) => {
  try {
    const { token, booking: bookingId } = socket.handshake.auth || {};
    let claims;
    try {
      claims = jwt.verify(String(token || ""), SECRET_KEY, { algorithms: ["HS256"] });
    } catch {
      return next(new Error("not_authenticated"));
    }
    if (claims.token_type !== "access" || claims.user_id == null) {
      return next(new Error("not_authenticated"));
    }
    const users = await pool.query({ ...SELECT_USER, values: [Number(claims.user_id)] });
    const user = users.rows[0];
    if (!user || !user.is_active) return next(new Error("not_authenticated"));
    const bookings = await pool.query({ ...SELECT_BOOKING, values: [Number(bookingId)] });
    const booking = bookings.rows[0];
    const now = Date.now();
    if (
      !booking ||
      (Number(booking.learner_id) !== Number(user.id) && Number(booking.teacher_id) !== Number(user.id)) ||
      !ROOM_STATUSES.has(booking.status) ||
      now < booking.start.getTime() - OPENS_MS ||
      now > booking.end.getTime() + GRACE_MS
    ) {
      return next(new Error("forbidden"));
    }
    socket.data.userId = Number(user.id);
    socket.data.username = user.username;
    socket.data.bookingId = Number(booking.id);
    socket.data.room = `booking:${booking.id}`;
    socket.data.closesAt = booking.end.getTime() + GRACE_MS;
    socket.data.chain = Promise.resolve(); // this socket's messages, in order
    return next();
  } catch (err) {
    console.error("connect failed", err);
    return next(new Error("try_again"));
  }
});

io.on("connection", async (socket) => {
  const { room, bookingId, userId, username } = socket.data;
  socket.join(room);

  socket.on("chat.send", (content) => {
    const now = Date.now();
    if (!socket.rooms.has(room)) return error(socket, "forbidden", "Not in this room.");
    if (now > socket.data.closesAt) return error(socket, "room_closed", "The session's time is over.");
    const [text, problem] = cleanText(content && content.text);
    if (problem) return error(socket, "invalid", problem);
    if (!rateHit(userId, now)) return error(socket, "rate_limited", "You're sending messages too fast.");
    const sentAt = new Date(now);
    // The save starts now; the broadcast waits for it, and for this socket's earlier
    // messages' broadcasts, so a socket's messages keep their order.
    const saved = chatSave([bookingId, userId, text, sentAt]);
    saved.catch(() => {}); // handled in the chain below
    socket.data.chain = socket.data.chain.then(async () => {
      try {
        const id = await saved;
        const message = payload(id, userId, username, text, sentAt);
        io.to(room).emit("chat.message", { message });
      } catch (err) {
        console.error("chat not saved", err);
        error(socket, "chat_not_saved", "Your message could not be saved. Please send it again.");
      }
    });
  });

  try {
    const history = await pool.query({ ...SELECT_HISTORY, values: [bookingId, HISTORY_LIMIT] });
    socket.emit("room", {
      booking: bookingId,
      you: userId,
      history: history.rows.map((r) =>
        payload(Number(r.id), Number(r.sender_id), r.username, r.text, r.sent_at),
      ),
    });
  } catch (err) {
    console.error("history failed", err);
    socket.disconnect(true);
  }
});

async function main() {
  if (REDIS_URL) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: REDIS_URL });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) client.on("error", (err) => console.error("redis", err.message));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: REDIS_PREFIX }));
  }
  httpServer.listen(PORT, HOST, () => {
    const adapter = REDIS_URL ? "redis adapter" : "in-memory adapter";
    console.log(`socket.io peer on http://${HOST}:${PORT} (${adapter}, chat writes ${CHAT_WRITES})`);
  });
}

function stop() {
  io.close();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
