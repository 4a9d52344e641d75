//! HTTP/1.1 client: any method, request headers and body, status/headers/body back, a deadline over the
//! whole exchange, redirects, and https through std.crypto.tls (TLS 1.3, the only version Zig 0.11 speaks).
//!
//! Request: {url, method?: "GET", headers?: {name: value}, body?: str|bin, timeout_ms?: 30000,
//!           max_redirects?: 5, max_body_bytes?: 64 MiB, ca_file?: absolute PEM path (else the system CAs)}
//! Answer:  {status, reason, headers: {lower-case name: value (repeats joined with ", ")}, body: bin,
//!           url: the final URL, redirects: n}
//! Errors:  HTTP_TIMEOUT, HTTP_CONNECT_FAILED, HTTP_TLS_FAILED, HTTP_TOO_MANY_REDIRECTS, HTTP_BODY_TOO_LARGE,
//!          HTTP_FAILED (anything else, with Zig's error name), BAD_REQUEST.
//!
//! Why the connection is made here and not by std.http.Client: Zig 0.11's client has no timeouts. We
//! connect with a non-blocking socket and poll (connect deadline), then set SO_RCVTIMEO/SO_SNDTIMEO to the
//! time left, hand the socket to the client as a ready connection, and follow redirects ourselves so that
//! every hop goes through the same path.
//!
//! A call blocks its thread for up to `timeout_ms`: `flags` says blocking, so the loader runs it on Deno's
//! thread pool (a blocking call on the event loop to a server in the same process would deadlock).

const std = @import("std");
const assert = std.debug.assert;
const o = @import("o.zig");
const http = std.http;

pub const version: [:0]const u8 = "1.0.0";
pub const flags: u32 = o.flag_blocking;

const timeout_ms_default: i64 = 30_000;
const timeout_ms_max: i64 = 10 * 60 * 1000;
const redirects_default: i64 = 5;
const redirects_max: i64 = 20;
const body_bytes_default: i64 = 64 * 1024 * 1024;
const body_bytes_max: i64 = 256 * 1024 * 1024;
const headers_max: usize = 256;

comptime {
    assert(timeout_ms_default <= timeout_ms_max);
    assert(redirects_default <= redirects_max);
    assert(body_bytes_default <= body_bytes_max);
}

/// The system CA bundle, loaded on the first https request and kept (read-only afterwards).
var system_ca_mutex = std.Thread.Mutex{};
var system_ca: ?std.crypto.Certificate.Bundle = null;

pub fn init(call: *o.Call, config: o.Value) !void {
    _ = call;
    _ = config;
}

pub fn shutdown() void {
    system_ca_mutex.lock();
    defer system_ca_mutex.unlock();
    if (system_ca) |*bundle| bundle.deinit(o.allocator);
    system_ca = null;
}

pub fn stateSave(call: *o.Call, out: *o.Writer) !void {
    _ = call;
    try out.nil();
}

pub fn stateLoad(call: *o.Call, state: o.Value) !void {
    _ = call;
    _ = state;
}

const Options = struct {
    method: http.Method,
    timeout_ms: i64,
    redirects_max: i64,
    body_bytes_max: usize,
    body: ?[]const u8,
    ca: ?std.crypto.Certificate.Bundle,
    deadline_ms: i64,
};

pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const url = try call.str(request, "url");
    var options = try readOptions(call, request);
    var headers = http.Headers{ .allocator = call.arena };
    try readHeaders(call, request, &headers);
    var uri = std.Uri.parse(url) catch return call.fail("BAD_REQUEST", "cannot parse url '{s}'", .{url});

    var client = http.Client{ .allocator = call.arena };
    defer client.deinit();
    var redirects: i64 = 0;
    while (true) {
        var req = try send(call, &client, uri, &headers, &options);
        defer req.deinit();
        const status = @intFromEnum(req.response.status);
        const location = req.response.headers.getFirstValue("location");
        if (status >= 300 and status < 400 and location != null and redirects < options.redirects_max) {
            redirects += 1;
            const target = try call.arena.dupe(u8, location.?);
            const next = std.Uri.parse(target) catch std.Uri.parseWithoutScheme(target) catch
                return call.fail("HTTP_FAILED", "bad redirect location '{s}'", .{target});
            uri = try uri.resolve(next, false, call.arena);
            // 303, and 301/302 after a POST, turn into a GET without a body (what browsers and fetch do).
            if (status == 303 or ((status == 301 or status == 302) and options.method == .POST)) {
                options.method = .GET;
                options.body = null;
            }
            continue;
        }
        // max_redirects 0 hands the redirect itself back (fetch's redirect: "manual"); otherwise running out is an error.
        if (status >= 300 and status < 400 and location != null and options.redirects_max > 0) {
            return call.fail("HTTP_TOO_MANY_REDIRECTS", "more than {d} redirects", .{options.redirects_max});
        }
        const body = try readBody(call, &req, &options);
        return writeAnswer(call, &req, body, uri, redirects, out);
    }
}

fn readOptions(call: *o.Call, request: o.Value) !Options {
    const method_name = if (request.get("method")) |m| m.asStr() orelse
        return call.fail("BAD_REQUEST", "method must be a string", .{}) else "GET";
    var upper: [16]u8 = undefined;
    if (method_name.len > upper.len) return call.fail("BAD_REQUEST", "unknown method '{s}'", .{method_name});
    const method = std.meta.stringToEnum(http.Method, std.ascii.upperString(upper[0..method_name.len], method_name)) orelse
        return call.fail("BAD_REQUEST", "unknown method '{s}'", .{method_name});
    const timeout_ms = try call.intOr(request, "timeout_ms", timeout_ms_default);
    if (timeout_ms <= 0 or timeout_ms > timeout_ms_max) return call.fail("BAD_REQUEST", "timeout_ms must be in 1..{d}", .{timeout_ms_max});
    const max_redirects = try call.intOr(request, "max_redirects", redirects_default);
    if (max_redirects < 0 or max_redirects > redirects_max) return call.fail("BAD_REQUEST", "max_redirects must be in 0..{d}", .{redirects_max});
    const max_body = try call.intOr(request, "max_body_bytes", body_bytes_default);
    if (max_body < 0 or max_body > body_bytes_max) return call.fail("BAD_REQUEST", "max_body_bytes must be in 0..{d}", .{body_bytes_max});
    const body: ?[]const u8 = if (request.get("body")) |b| switch (b) {
        .nil => null,
        .str, .bin => b.asBytes().?,
        else => return call.fail("BAD_REQUEST", "body must be a string or bytes", .{}),
    } else null;
    var ca: ?std.crypto.Certificate.Bundle = null;
    if (request.get("ca_file")) |path_value| {
        const path = path_value.asStr() orelse return call.fail("BAD_REQUEST", "ca_file must be a string", .{});
        var bundle = std.crypto.Certificate.Bundle{};
        bundle.addCertsFromFilePathAbsolute(call.arena, path) catch |err|
            return call.fail("BAD_REQUEST", "cannot read CA file '{s}': {s}", .{ path, @errorName(err) });
        ca = bundle;
    }
    return .{
        .method = method,
        .timeout_ms = timeout_ms,
        .redirects_max = max_redirects,
        .body_bytes_max = @intCast(max_body),
        .body = body,
        .ca = ca,
        .deadline_ms = std.time.milliTimestamp() + timeout_ms,
    };
}

fn readHeaders(call: *o.Call, request: o.Value, headers: *http.Headers) !void {
    const given = request.get("headers") orelse o.Value.nil;
    switch (given) {
        .nil => {},
        .map => |entries| {
            if (entries.len > headers_max) return call.fail("BAD_REQUEST", "more than {d} headers", .{headers_max});
            for (entries) |entry| {
                const name = entry.key.asStr() orelse return call.fail("BAD_REQUEST", "header names must be strings", .{});
                const value = entry.value.asStr() orelse return call.fail("BAD_REQUEST", "header '{s}' must be a string", .{name});
                if (std.mem.indexOfAny(u8, name, "\r\n:") != null or std.mem.indexOfAny(u8, value, "\r\n") != null) {
                    return call.fail("BAD_REQUEST", "header '{s}' holds a line break or colon", .{name});
                }
                try headers.append(name, value);
            }
        },
        else => return call.fail("BAD_REQUEST", "headers must be a map", .{}),
    }
    // Ask for the body as is: one less decoder on the path, and exact byte counts for the caller.
    if (!headers.contains("accept-encoding")) try headers.append("accept-encoding", "identity");
    if (!headers.contains("connection")) try headers.append("connection", "close");
}

fn timeLeftMs(call: *o.Call, options: *const Options) !i64 {
    const left = options.deadline_ms - std.time.milliTimestamp();
    if (left <= 0) return call.fail("HTTP_TIMEOUT", "no answer within {d} ms", .{options.timeout_ms});
    return left;
}

/// Connects, sends the request (and body) and waits for the response head.
fn send(call: *o.Call, client: *http.Client, uri: std.Uri, headers: *http.Headers, options: *const Options) !http.Client.Request {
    const protocol = http.Client.protocol_map.get(uri.scheme) orelse
        return call.fail("BAD_REQUEST", "unsupported scheme '{s}'", .{uri.scheme});
    const host = uri.host orelse return call.fail("BAD_REQUEST", "the url has no host", .{});
    const port: u16 = uri.port orelse if (protocol == .tls) 443 else 80;
    // Zig 0.11 writes `Host` without the port; a server then rebuilds wrong URLs (redirects to port 80).
    var hop = http.Headers{ .allocator = call.arena };
    for (headers.list.items) |field| try hop.append(field.name, field.value);
    if (!headers.contains("host")) {
        const default_port: u16 = if (protocol == .tls) 443 else 80;
        const host_header = if (port == default_port) host else try std.fmt.allocPrint(call.arena, "{s}:{d}", .{ host, port });
        try hop.append("host", host_header);
    }
    const node = try connect(call, client, host, port, protocol, options);
    var req = client.request(options.method, uri, hop, .{ .handle_redirects = false, .connection = node }) catch |err|
        return failRequest(call, err, options);
    errdefer req.deinit();
    if (options.body) |body| req.transfer_encoding = .{ .content_length = body.len };
    req.start() catch |err| return failRequest(call, err, options);
    if (options.body) |body| {
        req.writeAll(body) catch |err| return failRequest(call, err, options);
        req.finish() catch |err| return failRequest(call, err, options);
    }
    req.wait() catch |err| return failRequest(call, err, options);
    return req;
}

fn failRequest(call: *o.Call, err: anyerror, options: *const Options) error{ Failed, OutOfMemory } {
    if (err == error.OutOfMemory) return error.OutOfMemory;
    if (std.time.milliTimestamp() >= options.deadline_ms or err == error.ConnectionTimedOut or err == error.WouldBlock) {
        return call.fail("HTTP_TIMEOUT", "no answer within {d} ms", .{options.timeout_ms});
    }
    return switch (err) {
        error.TlsFailure, error.TlsAlert, error.TlsInitializationFailed => call.fail("HTTP_TLS_FAILED", "TLS failed: {s}", .{@errorName(err)}),
        error.ConnectionRefused, error.ConnectionResetByPeer => call.fail("HTTP_CONNECT_FAILED", "{s}", .{@errorName(err)}),
        else => call.fail("HTTP_FAILED", "{s}", .{@errorName(err)}),
    };
}

/// A connected (and, for https, handshaken) connection registered with `client`, bounded by the deadline.
fn connect(call: *o.Call, client: *http.Client, host: []const u8, port: u16, protocol: http.Client.Connection.Protocol, options: *const Options) !*http.Client.ConnectionPool.Node {
    const stream = try connectTcp(call, host, port, options);
    errdefer stream.close();
    const node = try client.allocator.create(http.Client.ConnectionPool.Node);
    node.* = .{ .data = .{
        .stream = stream,
        .tls_client = undefined,
        .protocol = protocol,
        .host = try client.allocator.dupe(u8, host),
        .port = port,
    } };
    if (protocol == .tls) {
        const bundle = options.ca orelse try systemCa(call);
        node.data.tls_client = try client.allocator.create(std.crypto.tls.Client);
        node.data.tls_client.* = std.crypto.tls.Client.init(stream, bundle, host) catch |err| {
            if (std.time.milliTimestamp() >= options.deadline_ms) {
                return call.fail("HTTP_TIMEOUT", "no TLS handshake within {d} ms", .{options.timeout_ms});
            }
            return call.fail("HTTP_TLS_FAILED", "TLS handshake with {s} failed: {s}", .{ host, @errorName(err) });
        };
        // HTTP carries its own lengths, which detect truncation.
        node.data.tls_client.allow_truncation_attacks = true;
    }
    client.connection_pool.addUsed(node);
    return node;
}

fn systemCa(call: *o.Call) !std.crypto.Certificate.Bundle {
    system_ca_mutex.lock();
    defer system_ca_mutex.unlock();
    if (system_ca == null) {
        var bundle = std.crypto.Certificate.Bundle{};
        bundle.rescan(o.allocator) catch |err| return call.fail("HTTP_TLS_FAILED", "cannot load the system CAs: {s}", .{@errorName(err)});
        system_ca = bundle;
    }
    return system_ca.?;
}

fn connectTcp(call: *o.Call, host: []const u8, port: u16, options: *const Options) !std.net.Stream {
    const list = std.net.getAddressList(call.arena, host, port) catch |err|
        return call.fail("HTTP_CONNECT_FAILED", "cannot resolve {s}: {s}", .{ host, @errorName(err) });
    defer list.deinit();
    if (list.addrs.len == 0) return call.fail("HTTP_CONNECT_FAILED", "{s} has no address", .{host});
    var last_error: anyerror = error.ConnectionRefused;
    for (list.addrs) |address| {
        const left = try timeLeftMs(call, options);
        const fd = connectOne(address, left) catch |err| {
            last_error = err;
            continue;
        };
        return .{ .handle = fd };
    }
    if (last_error == error.ConnectionTimedOut) return call.fail("HTTP_TIMEOUT", "cannot connect to {s}:{d} within {d} ms", .{ host, port, options.timeout_ms });
    return call.fail("HTTP_CONNECT_FAILED", "cannot connect to {s}:{d}: {s}", .{ host, port, @errorName(last_error) });
}

/// Non-blocking connect bounded by `left_ms`, then a blocking socket whose reads and writes time out.
fn connectOne(address: std.net.Address, left_ms: i64) !std.os.socket_t {
    const os = std.os;
    const fd = try os.socket(address.any.family, os.SOCK.STREAM | os.SOCK.NONBLOCK | os.SOCK.CLOEXEC, os.IPPROTO.TCP);
    errdefer os.closeSocket(fd);
    os.connect(fd, &address.any, address.getOsSockLen()) catch |err| switch (err) {
        error.WouldBlock => {
            var fds = [_]os.pollfd{.{ .fd = fd, .events = os.POLL.OUT, .revents = 0 }};
            const ready = try os.poll(&fds, @intCast(@min(left_ms, std.math.maxInt(i32))));
            if (ready == 0) return error.ConnectionTimedOut;
            try os.getsockoptError(fd);
        },
        else => return err,
    };
    const fl = try os.fcntl(fd, os.F.GETFL, 0);
    _ = try os.fcntl(fd, os.F.SETFL, fl & ~@as(usize, os.O.NONBLOCK));
    const timeout = os.timeval{ .tv_sec = @intCast(@divTrunc(left_ms, 1000)), .tv_usec = @intCast(@mod(left_ms, 1000) * 1000) };
    try os.setsockopt(fd, os.SOL.SOCKET, os.SO.RCVTIMEO, std.mem.asBytes(&timeout));
    try os.setsockopt(fd, os.SOL.SOCKET, os.SO.SNDTIMEO, std.mem.asBytes(&timeout));
    return fd;
}

fn readBody(call: *o.Call, req: *http.Client.Request, options: *const Options) ![]const u8 {
    var body = std.ArrayList(u8).init(call.arena);
    var buffer: [16 * 1024]u8 = undefined;
    while (true) {
        _ = try timeLeftMs(call, options);
        const n = req.read(&buffer) catch |err| return failRequest(call, err, options);
        if (n == 0) break;
        if (body.items.len + n > options.body_bytes_max) {
            return call.fail("HTTP_BODY_TOO_LARGE", "the body exceeds {d} bytes", .{options.body_bytes_max});
        }
        try body.appendSlice(buffer[0..n]);
    }
    return body.items;
}

fn writeAnswer(call: *o.Call, req: *http.Client.Request, body: []const u8, uri: std.Uri, redirects: i64, out: *o.Writer) !void {
    // Header names are case-insensitive: lower-case them and join repeats, as fetch's Headers does.
    var names = std.StringArrayHashMap(std.ArrayList(u8)).init(call.arena);
    for (req.response.headers.list.items) |field| {
        const name = try std.ascii.allocLowerString(call.arena, field.name);
        const entry = try names.getOrPut(name);
        if (!entry.found_existing) {
            entry.value_ptr.* = std.ArrayList(u8).init(call.arena);
        } else {
            try entry.value_ptr.appendSlice(", ");
        }
        try entry.value_ptr.appendSlice(field.value);
    }
    try out.mapHeader(6);
    try out.str("status");
    try out.int(@intFromEnum(req.response.status));
    try out.str("reason");
    try out.str(req.response.reason);
    try out.str("headers");
    try out.mapHeader(names.count());
    var it = names.iterator();
    while (it.next()) |entry| {
        try out.str(entry.key_ptr.*);
        try out.str(entry.value_ptr.items);
    }
    try out.str("body");
    try out.bin(body);
    try out.str("url");
    try out.str(try std.fmt.allocPrint(call.arena, "{+/}", .{uri}));
    try out.str("redirects");
    try out.int(redirects);
}

comptime {
    o.exportModule(@This());
}

const testing = std.testing;

test "http_client: refuses bad requests and reports a refused connection" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    try testing.expectEqualStrings("BAD_REQUEST", try o.testCallCode(@This(), a, .{ .url = "http://127.0.0.1:1/", .method = "FETCH" }));
    try testing.expectEqualStrings("BAD_REQUEST", try o.testCallCode(@This(), a, .{ .url = "ftp://127.0.0.1/" }));
    try testing.expectEqualStrings("BAD_REQUEST", try o.testCallCode(@This(), a, .{ .url = "http://127.0.0.1:1/", .timeout_ms = 0 }));
    // Port 1 on loopback has no listener: the kernel refuses at once.
    try testing.expectEqualStrings("HTTP_CONNECT_FAILED", try o.testCallCode(@This(), a, .{ .url = "http://127.0.0.1:1/", .timeout_ms = 2000 }));
}

test "http_client: GET against a one-shot local server" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    var server = try std.net.Address.parseIp("127.0.0.1", 0);
    var listener = std.net.StreamServer.init(.{ .reuse_address = true });
    defer listener.deinit();
    try listener.listen(server);
    server = listener.listen_address;
    const thread = try std.Thread.spawn(.{}, serveOnce, .{&listener});
    defer thread.join();
    const url = try std.fmt.allocPrint(a, "http://127.0.0.1:{d}/hello", .{server.getPort()});
    const answer = try o.testCall(@This(), a, .{ .url = url, .timeout_ms = 5000 });
    try testing.expectEqual(@as(i64, 200), answer.get("status").?.asInt().?);
    try testing.expectEqualStrings("hi", answer.get("body").?.asBytes().?);
    try testing.expectEqualStrings("yes", answer.get("headers").?.get("x-test").?.asStr().?);
}

fn serveOnce(listener: *std.net.StreamServer) void {
    const conn = listener.accept() catch return;
    defer conn.stream.close();
    var buffer: [4096]u8 = undefined;
    _ = conn.stream.read(&buffer) catch return;
    conn.stream.writeAll("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: yes\r\nConnection: close\r\n\r\nhi") catch return;
}
