//! A small, strict MessagePack codec for the module ABI.
//!
//! Why our own: requests and responses cross the FFI boundary as msgpack, and the std library of Zig 0.11
//! has no msgpack. The decoder treats its input as hostile: bounded depth, bounds-checked reads, counts
//! checked against the bytes left before anything is allocated, no extension types. Strings and binaries
//! are slices into the input (no copy), so a decoded `Value` lives only as long as its input bytes.

const std = @import("std");
const assert = std.debug.assert;

/// Deepest nesting of arrays and maps the decoder accepts; deeper input is refused, not recursed.
pub const depth_max: u32 = 64;

/// One decoded msgpack value. Slices point into the decoded input.
pub const Value = union(enum) {
    nil,
    boolean: bool,
    int: i64,
    /// Only for unsigned values above `maxInt(i64)`; smaller ones decode as `int`.
    uint: u64,
    float: f64,
    str: []const u8,
    bin: []const u8,
    array: []const Value,
    map: []const Entry,

    /// The value under `key` in a map, or null (also when `value` is not a map).
    pub fn get(value: Value, key: []const u8) ?Value {
        if (value != .map) return null;
        for (value.map) |entry| {
            if (entry.key == .str and std.mem.eql(u8, entry.key.str, key)) return entry.value;
        }
        return null;
    }

    pub fn asInt(value: Value) ?i64 {
        return switch (value) {
            .int => |n| n,
            else => null,
        };
    }

    /// Integers widen to f64 so that callers can send `1` where a float is meant.
    pub fn asFloat(value: Value) ?f64 {
        return switch (value) {
            .float => |f| f,
            .int => |n| @floatFromInt(n),
            .uint => |n| @floatFromInt(n),
            else => null,
        };
    }

    pub fn asStr(value: Value) ?[]const u8 {
        return switch (value) {
            .str => |s| s,
            else => null,
        };
    }

    /// Strings and binaries both read as bytes.
    pub fn asBytes(value: Value) ?[]const u8 {
        return switch (value) {
            .str => |s| s,
            .bin => |b| b,
            else => null,
        };
    }

    pub fn asBool(value: Value) ?bool {
        return switch (value) {
            .boolean => |b| b,
            else => null,
        };
    }
};

pub const Entry = struct { key: Value, value: Value };

pub const DecodeError = error{ Malformed, TooDeep, OutOfMemory };

/// Decodes one value that must fill `bytes` exactly. Arrays and maps are allocated from `allocator`
/// (an arena in practice: nothing is freed one by one).
pub fn decode(allocator: std.mem.Allocator, bytes: []const u8) DecodeError!Value {
    var reader = Reader{ .bytes = bytes, .allocator = allocator };
    const value = try reader.value(0);
    if (reader.pos != bytes.len) return error.Malformed;
    assert(reader.pos == bytes.len);
    return value;
}

const Reader = struct {
    bytes: []const u8,
    pos: usize = 0,
    allocator: std.mem.Allocator,

    fn take(reader: *Reader, n: usize) DecodeError![]const u8 {
        if (n > reader.bytes.len - reader.pos) return error.Malformed;
        const slice = reader.bytes[reader.pos .. reader.pos + n];
        reader.pos += n;
        assert(reader.pos <= reader.bytes.len);
        return slice;
    }

    fn int(reader: *Reader, comptime T: type) DecodeError!T {
        const slice = try reader.take(@sizeOf(T));
        return std.mem.readIntBig(T, slice[0..@sizeOf(T)]);
    }

    fn value(reader: *Reader, depth: u32) DecodeError!Value {
        if (depth > depth_max) return error.TooDeep;
        const b = (try reader.take(1))[0];
        if (b <= 0x7f) return .{ .int = b };
        if (b >= 0xe0) return .{ .int = @as(i64, b) - 0x100 };
        if (b <= 0x8f) return reader.map(b & 0x0f, depth);
        if (b <= 0x9f) return reader.array(b & 0x0f, depth);
        if (b <= 0xbf) return .{ .str = try reader.take(b & 0x1f) };
        return switch (b) {
            0xc0 => .nil,
            0xc2 => .{ .boolean = false },
            0xc3 => .{ .boolean = true },
            0xc4 => .{ .bin = try reader.take(try reader.int(u8)) },
            0xc5 => .{ .bin = try reader.take(try reader.int(u16)) },
            0xc6 => .{ .bin = try reader.take(try reader.int(u32)) },
            0xca => .{ .float = @as(f32, @bitCast(try reader.int(u32))) },
            0xcb => .{ .float = @as(f64, @bitCast(try reader.int(u64))) },
            0xcc => .{ .int = try reader.int(u8) },
            0xcd => .{ .int = try reader.int(u16) },
            0xce => .{ .int = try reader.int(u32) },
            0xcf => unsigned(try reader.int(u64)),
            0xd0 => .{ .int = try reader.int(i8) },
            0xd1 => .{ .int = try reader.int(i16) },
            0xd2 => .{ .int = try reader.int(i32) },
            0xd3 => .{ .int = try reader.int(i64) },
            0xd9 => .{ .str = try reader.take(try reader.int(u8)) },
            0xda => .{ .str = try reader.take(try reader.int(u16)) },
            0xdb => .{ .str = try reader.take(try reader.int(u32)) },
            0xdc => reader.array(try reader.int(u16), depth),
            0xdd => reader.array(try reader.int(u32), depth),
            0xde => reader.map(try reader.int(u16), depth),
            0xdf => reader.map(try reader.int(u32), depth),
            else => error.Malformed,
        };
    }

    fn array(reader: *Reader, count: usize, depth: u32) DecodeError!Value {
        // Each item takes at least one byte: refuse counts the input cannot hold before allocating.
        if (count > reader.bytes.len - reader.pos) return error.Malformed;
        const items = try reader.allocator.alloc(Value, count);
        for (items) |*item| item.* = try reader.value(depth + 1);
        return .{ .array = items };
    }

    fn map(reader: *Reader, count: usize, depth: u32) DecodeError!Value {
        if (count > (reader.bytes.len - reader.pos) / 2) return error.Malformed;
        const entries = try reader.allocator.alloc(Entry, count);
        for (entries) |*entry| {
            entry.key = try reader.value(depth + 1);
            entry.value = try reader.value(depth + 1);
        }
        return .{ .map = entries };
    }
};

fn unsigned(n: u64) Value {
    if (n <= std.math.maxInt(i64)) return .{ .int = @intCast(n) };
    return .{ .uint = n };
}

/// Appends msgpack to a growable buffer. Every method writes exactly one item (or one header).
pub const Writer = struct {
    list: std.ArrayList(u8),

    pub fn init(allocator: std.mem.Allocator) Writer {
        return .{ .list = std.ArrayList(u8).init(allocator) };
    }

    pub fn deinit(writer: *Writer) void {
        writer.list.deinit();
    }

    fn byte(writer: *Writer, b: u8) !void {
        try writer.list.append(b);
    }

    fn tagged(writer: *Writer, tag: u8, comptime T: type, n: T) !void {
        var buffer: [1 + @sizeOf(T)]u8 = undefined;
        buffer[0] = tag;
        std.mem.writeIntBig(T, buffer[1..], n);
        try writer.list.appendSlice(&buffer);
    }

    pub fn nil(writer: *Writer) !void {
        try writer.byte(0xc0);
    }

    pub fn boolean(writer: *Writer, b: bool) !void {
        try writer.byte(if (b) 0xc3 else 0xc2);
    }

    pub fn int(writer: *Writer, n: i64) !void {
        if (n >= 0) return writer.uint(@intCast(n));
        if (n >= -32) return writer.byte(@bitCast(@as(i8, @intCast(n))));
        if (n >= std.math.minInt(i8)) return writer.tagged(0xd0, i8, @as(i8, @intCast(n)));
        if (n >= std.math.minInt(i16)) return writer.tagged(0xd1, i16, @as(i16, @intCast(n)));
        if (n >= std.math.minInt(i32)) return writer.tagged(0xd2, i32, @as(i32, @intCast(n)));
        try writer.tagged(0xd3, i64, n);
    }

    pub fn uint(writer: *Writer, n: u64) !void {
        if (n <= 0x7f) return writer.byte(@intCast(n));
        if (n <= std.math.maxInt(u8)) return writer.tagged(0xcc, u8, @as(u8, @intCast(n)));
        if (n <= std.math.maxInt(u16)) return writer.tagged(0xcd, u16, @as(u16, @intCast(n)));
        if (n <= std.math.maxInt(u32)) return writer.tagged(0xce, u32, @as(u32, @intCast(n)));
        try writer.tagged(0xcf, u64, n);
    }

    pub fn float(writer: *Writer, f: f64) !void {
        try writer.tagged(0xcb, u64, @as(u64, @bitCast(f)));
    }

    pub fn str(writer: *Writer, s: []const u8) !void {
        if (s.len <= 31) {
            try writer.byte(0xa0 | @as(u8, @intCast(s.len)));
        } else if (s.len <= std.math.maxInt(u8)) {
            try writer.tagged(0xd9, u8, @as(u8, @intCast(s.len)));
        } else if (s.len <= std.math.maxInt(u16)) {
            try writer.tagged(0xda, u16, @as(u16, @intCast(s.len)));
        } else {
            try writer.tagged(0xdb, u32, @as(u32, @intCast(s.len)));
        }
        try writer.list.appendSlice(s);
    }

    pub fn bin(writer: *Writer, b: []const u8) !void {
        if (b.len <= std.math.maxInt(u8)) {
            try writer.tagged(0xc4, u8, @as(u8, @intCast(b.len)));
        } else if (b.len <= std.math.maxInt(u16)) {
            try writer.tagged(0xc5, u16, @as(u16, @intCast(b.len)));
        } else {
            try writer.tagged(0xc6, u32, @as(u32, @intCast(b.len)));
        }
        try writer.list.appendSlice(b);
    }

    pub fn arrayHeader(writer: *Writer, count: usize) !void {
        assert(count <= std.math.maxInt(u32));
        if (count <= 15) return writer.byte(0x90 | @as(u8, @intCast(count)));
        if (count <= std.math.maxInt(u16)) return writer.tagged(0xdc, u16, @as(u16, @intCast(count)));
        try writer.tagged(0xdd, u32, @as(u32, @intCast(count)));
    }

    pub fn mapHeader(writer: *Writer, count: usize) !void {
        assert(count <= std.math.maxInt(u32));
        if (count <= 15) return writer.byte(0x80 | @as(u8, @intCast(count)));
        if (count <= std.math.maxInt(u16)) return writer.tagged(0xde, u16, @as(u16, @intCast(count)));
        try writer.tagged(0xdf, u32, @as(u32, @intCast(count)));
    }

    /// Appends bytes that already are msgpack (items written into another Writer).
    pub fn raw(writer: *Writer, bytes: []const u8) !void {
        try writer.list.appendSlice(bytes);
    }

    /// Writes a decoded value back (used to echo and to carry state).
    pub fn value(writer: *Writer, v: Value) !void {
        switch (v) {
            .nil => try writer.nil(),
            .boolean => |b| try writer.boolean(b),
            .int => |n| try writer.int(n),
            .uint => |n| try writer.uint(n),
            .float => |f| try writer.float(f),
            .str => |s| try writer.str(s),
            .bin => |b| try writer.bin(b),
            .array => |items| {
                try writer.arrayHeader(items.len);
                for (items) |item| try writer.value(item);
            },
            .map => |entries| {
                try writer.mapHeader(entries.len);
                for (entries) |entry| {
                    try writer.value(entry.key);
                    try writer.value(entry.value);
                }
            },
        }
    }
};

const testing = std.testing;

test "msgpack: round trip of every kind" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    var writer = Writer.init(testing.allocator);
    defer writer.deinit();
    try writer.mapHeader(9);
    try writer.str("nil");
    try writer.nil();
    try writer.str("t");
    try writer.boolean(true);
    try writer.str("neg");
    try writer.int(-70000);
    try writer.str("small");
    try writer.int(-5);
    try writer.str("big");
    try writer.uint(std.math.maxInt(u64));
    try writer.str("f");
    try writer.float(1.5);
    try writer.str("s");
    try writer.str("x" ** 40);
    try writer.str("b");
    try writer.bin(&[_]u8{ 1, 2, 3 });
    try writer.str("a");
    try writer.arrayHeader(20);
    var i: i64 = 0;
    while (i < 20) : (i += 1) try writer.int(i * 1000);

    const v = try decode(arena.allocator(), writer.list.items);
    try testing.expect(v.get("nil").? == .nil);
    try testing.expectEqual(true, v.get("t").?.asBool().?);
    try testing.expectEqual(@as(i64, -70000), v.get("neg").?.asInt().?);
    try testing.expectEqual(@as(i64, -5), v.get("small").?.asInt().?);
    try testing.expectEqual(@as(u64, std.math.maxInt(u64)), v.get("big").?.uint);
    try testing.expectEqual(@as(f64, 1.5), v.get("f").?.asFloat().?);
    try testing.expectEqualStrings("x" ** 40, v.get("s").?.asStr().?);
    try testing.expectEqualSlices(u8, &[_]u8{ 1, 2, 3 }, v.get("b").?.asBytes().?);
    try testing.expectEqual(@as(usize, 20), v.get("a").?.array.len);
    try testing.expectEqual(@as(i64, 19000), v.get("a").?.array[19].asInt().?);
    try testing.expect(v.get("missing") == null);

    var again = Writer.init(testing.allocator);
    defer again.deinit();
    try again.value(v);
    try testing.expectEqualSlices(u8, writer.list.items, again.list.items);
}

test "msgpack: hostile input is refused" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    // Truncated, trailing bytes, a huge array count, a reserved type byte, nesting past depth_max.
    try testing.expectError(error.Malformed, decode(a, &[_]u8{0xcd}));
    try testing.expectError(error.Malformed, decode(a, &[_]u8{ 0x01, 0x02 }));
    try testing.expectError(error.Malformed, decode(a, &[_]u8{ 0xdd, 0xff, 0xff, 0xff, 0xff }));
    try testing.expectError(error.Malformed, decode(a, &[_]u8{0xc1}));
    try testing.expectError(error.Malformed, decode(a, &[_]u8{}));
    const deep = [_]u8{0x91} ** (depth_max + 2) ++ [_]u8{0xc0};
    try testing.expectError(error.TooDeep, decode(a, &deep));
}
