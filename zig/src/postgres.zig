//! PostgreSQL through the system libpq: connect/reconnect/close, queries with parameters, prepared
//! statements, typed result rows, and clear errors for bad SQL and lost connections.
//!
//! Requests (msgpack maps, `op` picks the operation):
//!   {op:"connect", conninfo}                   → {conn}   (libpq conninfo or a postgres:// URL)
//!   {op:"close", conn}                         → {closed: true}
//!   {op:"reconnect", conn}                     → {ok: true}  (PQreset; prepared statements are prepared again)
//!   {op:"status", conn}                        → {connected, server_version, backend_pid}
//!   {op:"query", conn, sql, params?}           → {columns, types, rows, command, rows_affected}
//!   {op:"prepare", conn, sql, name?}           → {stmt: name}
//!   {op:"execute", conn, stmt, params?}        → like query
//!   {op:"deallocate", conn, stmt}              → {ok: true}
//! Parameters go as text (`$1`, `$2`, …; the server infers their types), except bin, which goes as binary
//! (bytea). Result values by column type: bool → bool; int2/int4/int8/oid → int; float4/float8 → float;
//! bytea → bin; NULL → nil; everything else (numeric, text, json, timestamps, …) → its text form.
//!
//! Errors: `PG_ERROR` for anything the server refused, the message carries the SQLSTATE
//! (`[42601] syntax error at or near …`); `PG_CONNECTION_LOST` when the connection is gone (call
//! `reconnect`); `PG_CONNECT_FAILED`; `PG_NO_SUCH_CONN`; `BAD_REQUEST`.
//!
//! Calls may wait on the network, so `flags` says blocking: the loader runs them off the event loop. One
//! mutex guards the connection table and is held for the whole call, so calls run one at a time per
//! loaded module. Hot reload reconnects every connection and prepares its statements again; an open
//! transaction does not survive.

const std = @import("std");
const assert = std.debug.assert;
const o = @import("o.zig");
const c = @cImport(@cInclude("libpq-fe.h"));

pub const version: [:0]const u8 = "1.0.0";
pub const flags: u32 = o.flag_blocking;

/// Connections open at once.
const conns_max = 64;
/// Prepared statements remembered at once (to prepare them again after a reconnect or reload).
const prepared_max = 1024;
/// Parameters one statement may take (libpq's own limit is 65535).
const params_max = 65_535;
/// Rows one result may return; more fail with `PG_TOO_MANY_ROWS`.
const rows_max = 1_000_000;

comptime {
    assert(prepared_max >= conns_max);
}

const Conn = struct { id: i64, handle: *c.PGconn, conninfo: [:0]u8 };
const Prepared = struct { conn_id: i64, name: [:0]u8, sql: [:0]u8 };

const oid_bool = 16;
const oid_bytea = 17;
const oid_int8 = 20;
const oid_int2 = 21;
const oid_int4 = 23;
const oid_oid = 26;
const oid_float4 = 700;
const oid_float8 = 701;

var mutex = std.Thread.Mutex{};
var conns: [conns_max]?Conn = [_]?Conn{null} ** conns_max;
var prepared: [prepared_max]?Prepared = [_]?Prepared{null} ** prepared_max;
var id_next: i64 = 1;

pub fn init(call: *o.Call, config: o.Value) !void {
    _ = call;
    _ = config;
    mutex.lock();
    defer mutex.unlock();
    id_next = 1;
}

pub fn shutdown() void {
    mutex.lock();
    defer mutex.unlock();
    for (&prepared) |*slot| if (slot.*) |p| freePrepared(slot, p);
    for (&conns) |*slot| if (slot.*) |conn| {
        c.PQfinish(conn.handle);
        o.allocator.free(conn.conninfo);
        slot.* = null;
    };
}

fn freePrepared(slot: *?Prepared, p: Prepared) void {
    o.allocator.free(p.name);
    o.allocator.free(p.sql);
    slot.* = null;
}

fn eql(a: []const u8, b: []const u8) bool {
    return std.mem.eql(u8, a, b);
}

pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const op = try call.str(request, "op");
    mutex.lock();
    defer mutex.unlock();
    if (eql(op, "connect")) return opConnect(call, request, out);
    if (eql(op, "close")) return opClose(call, request, out);
    if (eql(op, "reconnect")) return opReconnect(call, request, out);
    if (eql(op, "status")) return opStatus(call, request, out);
    if (eql(op, "query")) return opQuery(call, request, out);
    if (eql(op, "prepare")) return opPrepare(call, request, out);
    if (eql(op, "execute")) return opExecute(call, request, out);
    if (eql(op, "deallocate")) return opDeallocate(call, request, out);
    return call.fail("UNKNOWN_OP", "unknown op '{s}'", .{op});
}

fn quietNotices(arg: ?*anyopaque, message: [*c]const u8) callconv(.C) void {
    // Notices (e.g. "table does not exist, skipping") are not errors; libpq would print them on stderr.
    _ = arg;
    _ = message;
}

fn trimmed(text: [*c]const u8) []const u8 {
    if (text == null) return "";
    return std.mem.trim(u8, std.mem.span(text), " \t\r\n");
}

fn findConnSlot(call: *o.Call, request: o.Value) !*?Conn {
    const id = try call.int(request, "conn");
    for (&conns) |*slot| {
        if (slot.*) |conn| if (conn.id == id) return slot;
    }
    return call.fail("PG_NO_SUCH_CONN", "no connection {d}", .{id});
}

fn findConn(call: *o.Call, request: o.Value) !*Conn {
    return &(try findConnSlot(call, request)).*.?;
}

/// Opens a connection into a free slot. With `keep_broken`, a connection that fails is kept (state
/// reload: the server may be back later, and `reconnect` will try again).
fn openConn(call: *o.Call, conninfo: []const u8, id: i64, keep_broken: bool) !void {
    const slot = for (&conns) |*slot| {
        if (slot.* == null) break slot;
    } else return call.fail("PG_TOO_MANY", "{d} connections are open already", .{conns_max});
    const conninfo_z = try o.allocator.dupeZ(u8, conninfo);
    errdefer o.allocator.free(conninfo_z);
    const handle_conn = c.PQconnectdb(conninfo_z.ptr) orelse return error.OutOfMemory;
    if (c.PQstatus(handle_conn) != c.CONNECTION_OK and !keep_broken) {
        defer c.PQfinish(handle_conn);
        return call.fail("PG_CONNECT_FAILED", "{s}", .{trimmed(c.PQerrorMessage(handle_conn))});
    }
    _ = c.PQsetNoticeProcessor(handle_conn, quietNotices, null);
    slot.* = .{ .id = id, .handle = handle_conn, .conninfo = conninfo_z };
}

fn opConnect(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const id = id_next;
    try openConn(call, try call.str(request, "conninfo"), id, false);
    id_next += 1;
    try out.mapHeader(1);
    try out.str("conn");
    try out.int(id);
}

fn opClose(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const slot = try findConnSlot(call, request);
    const conn = slot.*.?;
    for (&prepared) |*p_slot| if (p_slot.*) |p| if (p.conn_id == conn.id) freePrepared(p_slot, p);
    c.PQfinish(conn.handle);
    o.allocator.free(conn.conninfo);
    slot.* = null;
    try out.mapHeader(1);
    try out.str("closed");
    try out.boolean(true);
}

fn opReconnect(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    c.PQreset(conn.handle);
    if (c.PQstatus(conn.handle) != c.CONNECTION_OK) {
        return call.fail("PG_CONNECT_FAILED", "{s}", .{trimmed(c.PQerrorMessage(conn.handle))});
    }
    try reprepare(call, conn);
    try out.mapHeader(1);
    try out.str("ok");
    try out.boolean(true);
}

/// Prepares again, on the server, every statement remembered for `conn` (a new session has none).
fn reprepare(call: *o.Call, conn: *Conn) !void {
    for (prepared) |slot| if (slot) |p| if (p.conn_id == conn.id) {
        const result = c.PQprepare(conn.handle, p.name.ptr, p.sql.ptr, 0, null);
        defer c.PQclear(result);
        try checkResult(call, conn, result);
    };
}

fn opStatus(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    try out.mapHeader(3);
    try out.str("connected");
    try out.boolean(c.PQstatus(conn.handle) == c.CONNECTION_OK);
    try out.str("server_version");
    try out.int(c.PQserverVersion(conn.handle));
    try out.str("backend_pid");
    try out.int(c.PQbackendPID(conn.handle));
}

/// Turns a failed result into `PG_ERROR` (the server refused) or `PG_CONNECTION_LOST`.
fn checkResult(call: *o.Call, conn: *Conn, result: ?*c.PGresult) !void {
    const status = if (result) |r| c.PQresultStatus(r) else c.PGRES_FATAL_ERROR;
    switch (status) {
        c.PGRES_COMMAND_OK, c.PGRES_TUPLES_OK, c.PGRES_EMPTY_QUERY => return,
        else => {},
    }
    if (c.PQstatus(conn.handle) != c.CONNECTION_OK) {
        return call.fail("PG_CONNECTION_LOST", "the connection to the server is lost ({s}); call reconnect", .{
            trimmed(c.PQerrorMessage(conn.handle)),
        });
    }
    const r = result orelse return call.fail("PG_ERROR", "{s}", .{trimmed(c.PQerrorMessage(conn.handle))});
    const sqlstate = trimmed(c.PQresultErrorField(r, c.PG_DIAG_SQLSTATE));
    const primary = trimmed(c.PQresultErrorField(r, c.PG_DIAG_MESSAGE_PRIMARY));
    const message = if (primary.len > 0) primary else trimmed(c.PQresultErrorMessage(r));
    return call.fail("PG_ERROR", "[{s}] {s}", .{ sqlstate, message });
}

const Params = struct {
    count: c_int = 0,
    values: [*c]const [*c]const u8 = null,
    lengths: [*c]const c_int = null,
    formats: [*c]const c_int = null,
};

/// Converts the request's `params` array into libpq's parallel arrays (text, or binary for bin).
fn buildParams(call: *o.Call, request: o.Value) !Params {
    const params = request.get("params") orelse return .{};
    if (params == .nil) return .{};
    if (params != .array) return call.fail("BAD_REQUEST", "params must be an array ($1, $2, ...)", .{});
    const items = params.array;
    if (items.len > params_max) return call.fail("BAD_REQUEST", "{d} parameters exceed {d}", .{ items.len, params_max });
    const values = try call.arena.alloc([*c]const u8, items.len);
    const lengths = try call.arena.alloc(c_int, items.len);
    const formats = try call.arena.alloc(c_int, items.len);
    for (items, 0..) |item, i| {
        formats[i] = 0;
        lengths[i] = 0;
        values[i] = switch (item) {
            .nil => null,
            .boolean => |b| if (b) "true" else "false",
            .int => |n| (try std.fmt.allocPrintZ(call.arena, "{d}", .{n})).ptr,
            .uint => |n| (try std.fmt.allocPrintZ(call.arena, "{d}", .{n})).ptr,
            .float => |f| (try formatFloat(call, f)).ptr,
            .str => |s| (try call.arena.dupeZ(u8, s)).ptr,
            .bin => |b| blk: {
                formats[i] = 1;
                lengths[i] = @intCast(b.len);
                break :blk if (b.len == 0) "" else b.ptr;
            },
            .array, .map => return call.fail("BAD_REQUEST", "parameter ${d} is an array or a map", .{i + 1}),
        };
    }
    return .{ .count = @intCast(items.len), .values = values.ptr, .lengths = lengths.ptr, .formats = formats.ptr };
}

fn formatFloat(call: *o.Call, f: f64) ![:0]const u8 {
    if (std.math.isNan(f)) return "NaN";
    if (std.math.isInf(f)) return if (f > 0) "Infinity" else "-Infinity";
    return std.fmt.allocPrintZ(call.arena, "{e}", .{f});
}

fn opQuery(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    const sql = try call.strZ(request, "sql");
    const params = try buildParams(call, request);
    const result = c.PQexecParams(conn.handle, sql.ptr, params.count, null, params.values, params.lengths, params.formats, 0);
    defer c.PQclear(result);
    try checkResult(call, conn, result);
    try writeResult(call, result.?, out);
}

fn opPrepare(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    const sql = try call.strZ(request, "sql");
    const name = if (request.get("name")) |n| try call.arena.dupeZ(u8, n.asStr() orelse
        return call.fail("BAD_REQUEST", "name must be a string", .{})) else try std.fmt.allocPrintZ(call.arena, "o_stmt_{d}", .{id_next});
    const slot = for (&prepared) |*slot| {
        if (slot.* == null) break slot;
    } else return call.fail("PG_TOO_MANY", "{d} statements are prepared already", .{prepared_max});
    const result = c.PQprepare(conn.handle, name.ptr, sql.ptr, 0, null);
    defer c.PQclear(result);
    try checkResult(call, conn, result);
    id_next += 1;
    const name_kept = try o.allocator.dupeZ(u8, name);
    errdefer o.allocator.free(name_kept);
    slot.* = .{ .conn_id = conn.id, .name = name_kept, .sql = try o.allocator.dupeZ(u8, sql) };
    try out.mapHeader(1);
    try out.str("stmt");
    try out.str(name);
}

fn opExecute(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    const name = try call.strZ(request, "stmt");
    const params = try buildParams(call, request);
    const result = c.PQexecPrepared(conn.handle, name.ptr, params.count, params.values, params.lengths, params.formats, 0);
    defer c.PQclear(result);
    try checkResult(call, conn, result);
    try writeResult(call, result.?, out);
}

fn opDeallocate(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const conn = try findConn(call, request);
    const name = try call.str(request, "stmt");
    for (&prepared) |*slot| if (slot.*) |p| if (p.conn_id == conn.id and eql(p.name, name)) {
        const sql = try std.fmt.allocPrintZ(call.arena, "DEALLOCATE \"{s}\"", .{name});
        const result = c.PQexec(conn.handle, sql.ptr);
        defer c.PQclear(result);
        try checkResult(call, conn, result);
        freePrepared(slot, p);
        try out.mapHeader(1);
        try out.str("ok");
        return out.boolean(true);
    };
    return call.fail("PG_NO_SUCH_STMT", "no prepared statement '{s}' on connection {d}", .{ name, conn.id });
}

fn writeResult(call: *o.Call, result: *c.PGresult, out: *o.Writer) !void {
    const fields: usize = @intCast(c.PQnfields(result));
    const tuples: usize = @intCast(c.PQntuples(result));
    if (tuples > rows_max) return call.fail("PG_TOO_MANY_ROWS", "{d} rows exceed {d}", .{ tuples, rows_max });
    try out.mapHeader(5);
    try out.str("columns");
    try out.arrayHeader(fields);
    for (0..fields) |f| try out.str(std.mem.span(c.PQfname(result, @intCast(f))));
    try out.str("types");
    try out.arrayHeader(fields);
    for (0..fields) |f| try out.int(c.PQftype(result, @intCast(f)));
    try out.str("rows");
    try out.arrayHeader(tuples);
    for (0..tuples) |t| {
        try out.arrayHeader(fields);
        for (0..fields) |f| try writeValue(call, result, @intCast(t), @intCast(f), out);
    }
    try out.str("command");
    try out.str(trimmed(c.PQcmdStatus(result)));
    try out.str("rows_affected");
    try out.int(std.fmt.parseInt(i64, trimmed(c.PQcmdTuples(result)), 10) catch 0);
}

fn writeValue(call: *o.Call, result: *c.PGresult, t: c_int, f: c_int, out: *o.Writer) !void {
    if (c.PQgetisnull(result, t, f) != 0) return out.nil();
    const len: usize = @intCast(c.PQgetlength(result, t, f));
    const text: []const u8 = c.PQgetvalue(result, t, f)[0..len];
    switch (c.PQftype(result, f)) {
        oid_bool => try out.boolean(len > 0 and text[0] == 't'),
        oid_int2, oid_int4, oid_int8, oid_oid => try out.int(std.fmt.parseInt(i64, text, 10) catch
            return call.fail("PG_DECODE", "cannot read '{s}' as an integer", .{text})),
        oid_float4, oid_float8 => try out.float(parseFloat(text) orelse
            return call.fail("PG_DECODE", "cannot read '{s}' as a float", .{text})),
        oid_bytea => try out.bin(try decodeBytea(call, text)),
        else => try out.str(text),
    }
}

fn parseFloat(text: []const u8) ?f64 {
    if (eql(text, "NaN")) return std.math.nan(f64);
    if (eql(text, "Infinity")) return std.math.inf(f64);
    if (eql(text, "-Infinity")) return -std.math.inf(f64);
    return std.fmt.parseFloat(f64, text) catch null;
}

/// bytea in text form is `\x` followed by hex (the server's default `bytea_output = hex`).
fn decodeBytea(call: *o.Call, text: []const u8) ![]const u8 {
    if (text.len < 2 or text[0] != '\\' or text[1] != 'x') {
        return call.fail("PG_DECODE", "bytea is not in hex form (set bytea_output = hex)", .{});
    }
    const hex = text[2..];
    const bytes = try call.arena.alloc(u8, hex.len / 2);
    _ = std.fmt.hexToBytes(bytes, hex) catch return call.fail("PG_DECODE", "bytea hex is malformed", .{});
    return bytes;
}

pub fn stateSave(call: *o.Call, out: *o.Writer) !void {
    _ = call;
    mutex.lock();
    defer mutex.unlock();
    var conn_count: usize = 0;
    for (conns) |slot| conn_count += @intFromBool(slot != null);
    var prepared_count: usize = 0;
    for (prepared) |slot| prepared_count += @intFromBool(slot != null);
    try out.mapHeader(3);
    try out.str("id_next");
    try out.int(id_next);
    try out.str("conns");
    try out.arrayHeader(conn_count);
    for (conns) |slot| if (slot) |conn| {
        try o.writeAny(out, .{ .id = conn.id, .conninfo = @as([]const u8, conn.conninfo) });
    };
    try out.str("prepared");
    try out.arrayHeader(prepared_count);
    for (prepared) |slot| if (slot) |p| {
        try o.writeAny(out, .{ .conn = p.conn_id, .name = @as([]const u8, p.name), .sql = @as([]const u8, p.sql) });
    };
}

pub fn stateLoad(call: *o.Call, state: o.Value) !void {
    if (state == .nil) return;
    mutex.lock();
    defer mutex.unlock();
    id_next = try call.int(state, "id_next");
    const empty = o.Value{ .array = &.{} };
    for ((state.get("conns") orelse empty).array) |saved| {
        try openConn(call, try call.str(saved, "conninfo"), try call.int(saved, "id"), true);
    }
    for ((state.get("prepared") orelse empty).array) |saved| {
        const slot = for (&prepared) |*slot| {
            if (slot.* == null) break slot;
        } else return call.fail("PG_TOO_MANY", "too many prepared statements in the saved state", .{});
        const name = try o.allocator.dupeZ(u8, try call.str(saved, "name"));
        errdefer o.allocator.free(name);
        slot.* = .{ .conn_id = try call.int(saved, "conn"), .name = name, .sql = try o.allocator.dupeZ(u8, try call.str(saved, "sql")) };
    }
    // A connection that is up gets its statements back now; a broken one gets them on reconnect.
    for (&conns) |*slot| if (slot.*) |*conn| if (c.PQstatus(conn.handle) == c.CONNECTION_OK) try reprepare(call, conn);
}

comptime {
    o.exportModule(@This());
}

const testing = std.testing;
/// The test server (CONTRACT: PostgreSQL 15 on 127.0.0.1:5432, trust auth). A test that cannot reach it fails.
const test_conninfo = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5";

test "postgres: connect, typed query with params, prepared statement, bad SQL, lost connection, reconnect" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    var call = o.Call{ .arena = a };
    try init(&call, .nil);
    defer shutdown();
    const conn = (try o.testCall(@This(), a, .{ .op = "connect", .conninfo = test_conninfo })).get("conn").?.asInt().?;
    const out = try o.testCall(@This(), a, .{
        .op = "query",
        .conn = conn,
        .sql = "SELECT $1::int8 AS i, $2::float8 AS f, $3::text AS s, true AS b, NULL::int AS n, '\\x0102'::bytea AS y",
        .params = .{ 42, 2.5, "hi" },
    });
    const row = out.get("rows").?.array[0].array;
    try testing.expectEqual(@as(i64, 42), row[0].asInt().?);
    try testing.expectEqual(@as(f64, 2.5), row[1].asFloat().?);
    try testing.expectEqualStrings("hi", row[2].asStr().?);
    try testing.expectEqual(true, row[3].asBool().?);
    try testing.expect(row[4] == .nil);
    try testing.expectEqualSlices(u8, &[_]u8{ 1, 2 }, row[5].asBytes().?);

    const stmt = (try o.testCall(@This(), a, .{ .op = "prepare", .conn = conn, .sql = "SELECT $1::int + 1" })).get("stmt").?.asStr().?;
    const added = try o.testCall(@This(), a, .{ .op = "execute", .conn = conn, .stmt = stmt, .params = .{41} });
    try testing.expectEqual(@as(i64, 42), added.get("rows").?.array[0].array[0].asInt().?);

    try testing.expectEqualStrings("PG_ERROR", try o.testCallCode(@This(), a, .{ .op = "query", .conn = conn, .sql = "SELEC 1" }));

    // Lose the connection on purpose: the backend terminates itself.
    _ = o.testCallCode(@This(), a, .{ .op = "query", .conn = conn, .sql = "SELECT pg_terminate_backend(pg_backend_pid())" }) catch {};
    try testing.expectEqualStrings("PG_CONNECTION_LOST", try o.testCallCode(@This(), a, .{ .op = "query", .conn = conn, .sql = "SELECT 1" }));
    _ = try o.testCall(@This(), a, .{ .op = "reconnect", .conn = conn });
    const again = try o.testCall(@This(), a, .{ .op = "execute", .conn = conn, .stmt = stmt, .params = .{1} });
    try testing.expectEqual(@as(i64, 2), again.get("rows").?.array[0].array[0].asInt().?);
}
