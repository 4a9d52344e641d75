//! SQLite through the system libsqlite3: open/close, exec, queries with bound parameters returning typed
//! rows, transactions and prepared statements.
//!
//! Requests (msgpack maps, `op` picks the operation):
//!   {op:"open", path, mode?: "rwc"|"rw"|"ro"}          → {db}
//!   {op:"close", db}                                   → {closed: true}
//!   {op:"exec", db, sql}                               → {changes}        (several statements, no params)
//!   {op:"query", db, sql, params?}                     → {columns, rows, changes, last_insert_rowid}
//!   {op:"prepare", db, sql}                            → {stmt}
//!   {op:"run", stmt, params?}                          → like query
//!   {op:"finalize", stmt}                              → {finalized: true}
//!   {op:"begin", db, mode?: "deferred"|"immediate"|"exclusive"}, {op:"commit", db}, {op:"rollback", db}
//! `params` is an array (positional `?`/`?NNN`) or a map (named `:name`, `@name` or `$name`, keys without
//! the prefix). Values: nil, bool (0/1), int, float, str (TEXT), bin (BLOB). Rows are arrays in column
//! order with INTEGER → int, REAL → float, TEXT → str, BLOB → bin, NULL → nil.
//!
//! Errors: code `SQLITE_<PRIMARY>` (e.g. `SQLITE_ERROR`, `SQLITE_CONSTRAINT`, `SQLITE_BUSY`) with
//! sqlite's message; `SQLITE_NO_SUCH_DB` / `SQLITE_NO_SUCH_STMT` for unknown handles; `BAD_REQUEST`.
//!
//! Hot reload carries the open databases (reopened by path) and prepared statements (prepared again);
//! an open transaction is rolled back when the old version closes its connection, and the content of a
//! `:memory:` database does not survive.

const std = @import("std");
const assert = std.debug.assert;
const o = @import("o.zig");
const c = @cImport(@cInclude("sqlite3.h"));

pub const version: [:0]const u8 = "1.0.0";
pub const flags: u32 = 0;

/// Open databases at once; more are refused with `SQLITE_TOO_MANY`.
const dbs_max = 64;
/// Prepared statements at once, over all databases.
const stmts_max = 1024;
/// Rows one query may return; more fail with `SQLITE_TOO_MANY_ROWS` (page with LIMIT/OFFSET).
const rows_max = 1_000_000;
/// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
const busy_timeout_ms = 5_000;

comptime {
    assert(dbs_max > 0 and stmts_max >= dbs_max);
}

const Db = struct { id: i64, handle: *c.sqlite3, path: [:0]u8, mode: Mode };
const Stmt = struct { id: i64, db_id: i64, handle: *c.sqlite3_stmt, sql: [:0]u8 };
const Mode = enum { rwc, rw, ro };

var mutex = std.Thread.Mutex{};
var dbs: [dbs_max]?Db = [_]?Db{null} ** dbs_max;
var stmts: [stmts_max]?Stmt = [_]?Stmt{null} ** stmts_max;
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
    for (&stmts) |*slot| if (slot.*) |stmt| finalizeSlot(slot, stmt);
    for (&dbs) |*slot| if (slot.*) |db| closeSlot(slot, db);
}

fn finalizeSlot(slot: *?Stmt, stmt: Stmt) void {
    _ = c.sqlite3_finalize(stmt.handle);
    o.allocator.free(stmt.sql);
    slot.* = null;
}

fn closeSlot(slot: *?Db, db: Db) void {
    _ = c.sqlite3_close_v2(db.handle);
    o.allocator.free(db.path);
    slot.* = null;
}

fn eql(a: []const u8, b: []const u8) bool {
    return std.mem.eql(u8, a, b);
}

pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const op = try call.str(request, "op");
    mutex.lock();
    defer mutex.unlock();
    if (eql(op, "open")) return opOpen(call, request, out);
    if (eql(op, "close")) return opClose(call, request, out);
    if (eql(op, "exec")) return opExec(call, request, out);
    if (eql(op, "query")) return opQuery(call, request, out);
    if (eql(op, "prepare")) return opPrepare(call, request, out);
    if (eql(op, "run")) return opRun(call, request, out);
    if (eql(op, "finalize")) return opFinalize(call, request, out);
    if (eql(op, "begin")) return opBegin(call, request, out);
    if (eql(op, "commit")) return opSimple(call, request, out, "COMMIT");
    if (eql(op, "rollback")) return opSimple(call, request, out, "ROLLBACK");
    return call.fail("UNKNOWN_OP", "unknown op '{s}'", .{op});
}

fn primaryName(rc: c_int) []const u8 {
    return switch (rc & 0xff) {
        c.SQLITE_ERROR => "SQLITE_ERROR",
        c.SQLITE_BUSY => "SQLITE_BUSY",
        c.SQLITE_LOCKED => "SQLITE_LOCKED",
        c.SQLITE_READONLY => "SQLITE_READONLY",
        c.SQLITE_CORRUPT => "SQLITE_CORRUPT",
        c.SQLITE_FULL => "SQLITE_FULL",
        c.SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        c.SQLITE_CONSTRAINT => "SQLITE_CONSTRAINT",
        c.SQLITE_MISMATCH => "SQLITE_MISMATCH",
        c.SQLITE_MISUSE => "SQLITE_MISUSE",
        c.SQLITE_RANGE => "SQLITE_RANGE",
        c.SQLITE_NOMEM => "SQLITE_NOMEM",
        c.SQLITE_IOERR => "SQLITE_IOERR",
        else => "SQLITE_FAILED",
    };
}

fn failSqlite(call: *o.Call, db: ?*c.sqlite3, rc: c_int) error{Failed} {
    const message = if (db) |h| std.mem.span(c.sqlite3_errmsg(h)) else std.mem.span(c.sqlite3_errstr(rc));
    return call.fail(primaryName(rc), "{s} (code {d})", .{ message, rc });
}

fn findDbSlot(call: *o.Call, request: o.Value) !*?Db {
    const id = try call.int(request, "db");
    for (&dbs) |*slot| {
        if (slot.*) |db| if (db.id == id) return slot;
    }
    return call.fail("SQLITE_NO_SUCH_DB", "no open database {d}", .{id});
}

fn findDb(call: *o.Call, request: o.Value) !*Db {
    return &(try findDbSlot(call, request)).*.?;
}

fn findStmtSlot(call: *o.Call, request: o.Value) !*?Stmt {
    const id = try call.int(request, "stmt");
    for (&stmts) |*slot| {
        if (slot.*) |stmt| if (stmt.id == id) return slot;
    }
    return call.fail("SQLITE_NO_SUCH_STMT", "no prepared statement {d}", .{id});
}

fn findStmt(call: *o.Call, request: o.Value) !*Stmt {
    return &(try findStmtSlot(call, request)).*.?;
}

fn openDb(call: *o.Call, path: []const u8, mode: Mode, id: i64) !void {
    const slot = for (&dbs) |*slot| {
        if (slot.* == null) break slot;
    } else return call.fail("SQLITE_TOO_MANY", "{d} databases are open already", .{dbs_max});
    const path_z = try o.allocator.dupeZ(u8, path);
    errdefer o.allocator.free(path_z);
    const open_flags: c_int = switch (mode) {
        .rwc => c.SQLITE_OPEN_READWRITE | c.SQLITE_OPEN_CREATE,
        .rw => c.SQLITE_OPEN_READWRITE,
        .ro => c.SQLITE_OPEN_READONLY,
    } | c.SQLITE_OPEN_FULLMUTEX;
    var db: ?*c.sqlite3 = null;
    const rc = c.sqlite3_open_v2(path_z.ptr, &db, open_flags, null);
    if (rc != c.SQLITE_OK) {
        defer _ = c.sqlite3_close_v2(db);
        return failSqlite(call, db, rc);
    }
    _ = c.sqlite3_busy_timeout(db, busy_timeout_ms);
    _ = c.sqlite3_extended_result_codes(db, 1);
    slot.* = .{ .id = id, .handle = db.?, .path = path_z, .mode = mode };
}

fn opOpen(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const path = try call.str(request, "path");
    const mode_name = if (request.get("mode")) |m| m.asStr() orelse "rwc" else "rwc";
    const mode = std.meta.stringToEnum(Mode, mode_name) orelse
        return call.fail("BAD_REQUEST", "mode must be rwc, rw or ro, not '{s}'", .{mode_name});
    const id = id_next;
    try openDb(call, path, mode, id);
    id_next += 1;
    try out.mapHeader(1);
    try out.str("db");
    try out.int(id);
}

fn opClose(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const db_slot = try findDbSlot(call, request);
    const db = db_slot.*.?;
    for (&stmts) |*slot| if (slot.*) |stmt| if (stmt.db_id == db.id) finalizeSlot(slot, stmt);
    closeSlot(db_slot, db);
    try out.mapHeader(1);
    try out.str("closed");
    try out.boolean(true);
}

fn opExec(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const db = try findDb(call, request);
    const sql = try call.strZ(request, "sql");
    const rc = c.sqlite3_exec(db.handle, sql.ptr, null, null, null);
    if (rc != c.SQLITE_OK) return failSqlite(call, db.handle, rc);
    try out.mapHeader(1);
    try out.str("changes");
    try out.int(c.sqlite3_changes64(db.handle));
}

fn opSimple(call: *o.Call, request: o.Value, out: *o.Writer, sql: [:0]const u8) !void {
    const db = try findDb(call, request);
    const rc = c.sqlite3_exec(db.handle, sql.ptr, null, null, null);
    if (rc != c.SQLITE_OK) return failSqlite(call, db.handle, rc);
    try out.mapHeader(1);
    try out.str("ok");
    try out.boolean(true);
}

fn opBegin(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const mode = if (request.get("mode")) |m| m.asStr() orelse "deferred" else "deferred";
    const sql: [:0]const u8 = if (eql(mode, "deferred"))
        "BEGIN DEFERRED"
    else if (eql(mode, "immediate"))
        "BEGIN IMMEDIATE"
    else if (eql(mode, "exclusive"))
        "BEGIN EXCLUSIVE"
    else
        return call.fail("BAD_REQUEST", "mode must be deferred, immediate or exclusive", .{});
    return opSimple(call, request, out, sql);
}

fn prepare(call: *o.Call, db: *c.sqlite3, sql: []const u8) !*c.sqlite3_stmt {
    var stmt: ?*c.sqlite3_stmt = null;
    var tail: [*c]const u8 = null;
    const rc = c.sqlite3_prepare_v2(db, sql.ptr, @intCast(sql.len), &stmt, &tail);
    if (rc != c.SQLITE_OK) return failSqlite(call, db, rc);
    const handle_stmt = stmt orelse return call.fail("SQLITE_ERROR", "the SQL holds no statement", .{});
    const used = @intFromPtr(tail) - @intFromPtr(sql.ptr);
    if (std.mem.trim(u8, sql[used..], " \t\r\n;").len > 0) {
        _ = c.sqlite3_finalize(handle_stmt);
        return call.fail("BAD_REQUEST", "query takes one statement; use exec for several", .{});
    }
    return handle_stmt;
}

fn opQuery(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const db = try findDb(call, request);
    const stmt = try prepare(call, db.handle, try call.str(request, "sql"));
    defer _ = c.sqlite3_finalize(stmt);
    try bindAll(call, db.handle, stmt, request.get("params") orelse .nil);
    try runStatement(call, db.handle, stmt, out);
}

fn opPrepare(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const db = try findDb(call, request);
    const id = id_next;
    try prepareSlot(call, db, try call.str(request, "sql"), id);
    id_next += 1;
    try out.mapHeader(1);
    try out.str("stmt");
    try out.int(id);
}

fn prepareSlot(call: *o.Call, db: *Db, sql: []const u8, id: i64) !void {
    const slot = for (&stmts) |*slot| {
        if (slot.* == null) break slot;
    } else return call.fail("SQLITE_TOO_MANY", "{d} statements are prepared already", .{stmts_max});
    const stmt = try prepare(call, db.handle, sql);
    errdefer _ = c.sqlite3_finalize(stmt);
    slot.* = .{ .id = id, .db_id = db.id, .handle = stmt, .sql = try o.allocator.dupeZ(u8, sql) };
}

fn opRun(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const stmt = try findStmt(call, request);
    const db = c.sqlite3_db_handle(stmt.handle).?;
    // Bound text and blobs point into this request (SQLITE_STATIC): clear them before it is gone.
    defer _ = c.sqlite3_clear_bindings(stmt.handle);
    defer _ = c.sqlite3_reset(stmt.handle);
    try bindAll(call, db, stmt.handle, request.get("params") orelse .nil);
    try runStatement(call, db, stmt.handle, out);
}

fn opFinalize(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const slot = try findStmtSlot(call, request);
    finalizeSlot(slot, slot.*.?);
    try out.mapHeader(1);
    try out.str("finalized");
    try out.boolean(true);
}

fn bindAll(call: *o.Call, db: *c.sqlite3, stmt: *c.sqlite3_stmt, params: o.Value) !void {
    const count = c.sqlite3_bind_parameter_count(stmt);
    switch (params) {
        .nil => if (count != 0) return call.fail("SQLITE_RANGE", "the statement takes {d} parameters, none given", .{count}),
        .array => |items| {
            if (items.len != count) {
                return call.fail("SQLITE_RANGE", "the statement takes {d} parameters, {d} given", .{ count, items.len });
            }
            for (items, 1..) |item, index| try bindOne(call, db, stmt, @intCast(index), item);
        },
        .map => |entries| {
            for (entries) |entry| {
                const name = entry.key.asStr() orelse return call.fail("BAD_REQUEST", "parameter names must be strings", .{});
                const index = try namedIndex(call, stmt, name);
                try bindOne(call, db, stmt, index, entry.value);
            }
        },
        else => return call.fail("BAD_REQUEST", "params must be an array or a map", .{}),
    }
}

fn namedIndex(call: *o.Call, stmt: *c.sqlite3_stmt, name: []const u8) !c_int {
    for ([_]u8{ ':', '@', '$' }) |prefix| {
        const full = try std.fmt.allocPrintZ(call.arena, "{c}{s}", .{ prefix, name });
        const index = c.sqlite3_bind_parameter_index(stmt, full.ptr);
        if (index > 0) return index;
    }
    return call.fail("SQLITE_RANGE", "the statement has no parameter named '{s}'", .{name});
}

fn bindOne(call: *o.Call, db: *c.sqlite3, stmt: *c.sqlite3_stmt, index: c_int, value: o.Value) !void {
    const rc = switch (value) {
        .nil => c.sqlite3_bind_null(stmt, index),
        .boolean => |b| c.sqlite3_bind_int64(stmt, index, @intFromBool(b)),
        .int => |n| c.sqlite3_bind_int64(stmt, index, n),
        .uint => return call.fail("SQLITE_RANGE", "parameter {d} exceeds int64", .{index}),
        .float => |f| c.sqlite3_bind_double(stmt, index, f),
        // SQLITE_STATIC (null): the bytes live in the request until the statement is reset.
        .str => |s| c.sqlite3_bind_text64(stmt, index, s.ptr, s.len, null, c.SQLITE_UTF8),
        .bin => |b| if (b.len == 0) c.sqlite3_bind_zeroblob(stmt, index, 0) else c.sqlite3_bind_blob64(stmt, index, b.ptr, b.len, null),
        .array, .map => return call.fail("BAD_REQUEST", "parameter {d} is an array or a map", .{index}),
    };
    if (rc != c.SQLITE_OK) return failSqlite(call, db, rc);
}

/// Steps a bound statement to the end and writes `{columns, rows, changes, last_insert_rowid}`.
fn runStatement(call: *o.Call, db: *c.sqlite3, stmt: *c.sqlite3_stmt, out: *o.Writer) !void {
    const columns: usize = @intCast(c.sqlite3_column_count(stmt));
    var rows = o.Writer.init(call.arena);
    var row_count: usize = 0;
    while (true) {
        const rc = c.sqlite3_step(stmt);
        if (rc == c.SQLITE_DONE) break;
        if (rc != c.SQLITE_ROW) return failSqlite(call, db, rc);
        if (row_count == rows_max) return call.fail("SQLITE_TOO_MANY_ROWS", "more than {d} rows", .{rows_max});
        row_count += 1;
        try rows.arrayHeader(columns);
        for (0..columns) |i| try writeColumn(&rows, stmt, @intCast(i));
    }
    try out.mapHeader(4);
    try out.str("columns");
    try out.arrayHeader(columns);
    for (0..columns) |i| try out.str(std.mem.span(c.sqlite3_column_name(stmt, @intCast(i))));
    try out.str("rows");
    try out.arrayHeader(row_count);
    try out.raw(rows.list.items);
    try out.str("changes");
    // A statement that reads changes nothing, whatever an earlier statement did.
    try out.int(if (c.sqlite3_stmt_readonly(stmt) != 0) 0 else c.sqlite3_changes64(db));
    try out.str("last_insert_rowid");
    try out.int(c.sqlite3_last_insert_rowid(db));
}

fn writeColumn(out: *o.Writer, stmt: *c.sqlite3_stmt, i: c_int) !void {
    switch (c.sqlite3_column_type(stmt, i)) {
        c.SQLITE_INTEGER => try out.int(c.sqlite3_column_int64(stmt, i)),
        c.SQLITE_FLOAT => try out.float(c.sqlite3_column_double(stmt, i)),
        c.SQLITE_TEXT => {
            const ptr = c.sqlite3_column_text(stmt, i);
            const len: usize = @intCast(c.sqlite3_column_bytes(stmt, i));
            try out.str(if (len == 0) "" else ptr[0..len]);
        },
        c.SQLITE_BLOB => {
            const ptr: ?[*]const u8 = @ptrCast(c.sqlite3_column_blob(stmt, i));
            const len: usize = @intCast(c.sqlite3_column_bytes(stmt, i));
            try out.bin(if (len == 0) "" else ptr.?[0..len]);
        },
        else => try out.nil(),
    }
}

pub fn stateSave(call: *o.Call, out: *o.Writer) !void {
    _ = call;
    mutex.lock();
    defer mutex.unlock();
    var db_count: usize = 0;
    for (dbs) |slot| db_count += @intFromBool(slot != null);
    var stmt_count: usize = 0;
    for (stmts) |slot| stmt_count += @intFromBool(slot != null);
    try out.mapHeader(3);
    try out.str("id_next");
    try out.int(id_next);
    try out.str("dbs");
    try out.arrayHeader(db_count);
    for (dbs) |slot| if (slot) |db| {
        try o.writeAny(out, .{ .id = db.id, .path = @as([]const u8, db.path), .mode = @tagName(db.mode) });
    };
    try out.str("stmts");
    try out.arrayHeader(stmt_count);
    for (stmts) |slot| if (slot) |stmt| {
        try o.writeAny(out, .{ .id = stmt.id, .db = stmt.db_id, .sql = @as([]const u8, stmt.sql) });
    };
}

pub fn stateLoad(call: *o.Call, state: o.Value) !void {
    if (state == .nil) return;
    mutex.lock();
    defer mutex.unlock();
    id_next = try call.int(state, "id_next");
    const saved_dbs = (state.get("dbs") orelse o.Value{ .array = &.{} }).array;
    for (saved_dbs) |saved| {
        const mode = std.meta.stringToEnum(Mode, try call.str(saved, "mode")) orelse .rwc;
        try openDb(call, try call.str(saved, "path"), mode, try call.int(saved, "id"));
    }
    const saved_stmts = (state.get("stmts") orelse o.Value{ .array = &.{} }).array;
    for (saved_stmts) |saved| {
        const db = try findDb(call, .{ .map = &.{.{ .key = .{ .str = "db" }, .value = saved.get("db") orelse .nil }} });
        try prepareSlot(call, db, try call.str(saved, "sql"), try call.int(saved, "id"));
    }
}

comptime {
    o.exportModule(@This());
}

const testing = std.testing;

test "sqlite: open, exec, typed query with params, prepared statement, transaction, errors" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    var call = o.Call{ .arena = a };
    try init(&call, .nil);
    defer shutdown();
    const db = (try o.testCall(@This(), a, .{ .op = "open", .path = ":memory:" })).get("db").?.asInt().?;
    _ = try o.testCall(@This(), a, .{ .op = "exec", .db = db, .sql = "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)" });
    const ins = try o.testCall(@This(), a, .{ .op = "query", .db = db, .sql = "INSERT INTO t VALUES (?, ?, ?, ?, ?)", .params = .{ 42, 1.5, "hi", "", null } });
    try testing.expectEqual(@as(i64, 1), ins.get("changes").?.asInt().?);

    const rows = try o.testCall(@This(), a, .{ .op = "query", .db = db, .sql = "SELECT i, r, s, n FROM t WHERE i = :i", .params = .{ .i = 42 } });
    const row = rows.get("rows").?.array[0].array;
    try testing.expectEqual(@as(i64, 42), row[0].asInt().?);
    try testing.expectEqual(@as(f64, 1.5), row[1].asFloat().?);
    try testing.expectEqualStrings("hi", row[2].asStr().?);
    try testing.expect(row[3] == .nil);
    try testing.expectEqualStrings("r", rows.get("columns").?.array[1].asStr().?);

    const stmt = (try o.testCall(@This(), a, .{ .op = "prepare", .db = db, .sql = "INSERT INTO t (i) VALUES (?)" })).get("stmt").?.asInt().?;
    _ = try o.testCall(@This(), a, .{ .op = "begin", .db = db });
    _ = try o.testCall(@This(), a, .{ .op = "run", .stmt = stmt, .params = .{7} });
    _ = try o.testCall(@This(), a, .{ .op = "rollback", .db = db });
    const count = try o.testCall(@This(), a, .{ .op = "query", .db = db, .sql = "SELECT count(*) FROM t" });
    try testing.expectEqual(@as(i64, 1), count.get("rows").?.array[0].array[0].asInt().?);

    try testing.expectEqualStrings("SQLITE_ERROR", try o.testCallCode(@This(), a, .{ .op = "query", .db = db, .sql = "SELEC 1" }));
    try testing.expectEqualStrings("SQLITE_NO_SUCH_DB", try o.testCallCode(@This(), a, .{ .op = "exec", .db = 999, .sql = "SELECT 1" }));
    try testing.expectEqualStrings("SQLITE_RANGE", try o.testCallCode(@This(), a, .{ .op = "run", .stmt = stmt }));
}
