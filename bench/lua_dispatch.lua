-- The rule index's dispatch in isolation (a benchmark, not a test): a loop
-- over 300,000 events, each a program name drawn at random from 30, that
-- finds the name's first 4 bytes among 4 words by a binary search written
-- out in the code (as compile.lua's index does) and runs a bucket for the
-- ones found. What an event costs when its word is one a bucket holds (13%
-- of them here) against when no word matches (every event then takes the
-- same path), and when the buckets do nothing at all: the difference is the
-- branches a random word mispredicts, not the buckets' work.
--
--   luajit bench/lua_dispatch.lua      (pin it: taskset -c 1 luajit ...)
local ffi = require("ffi")
local bit = require("bit")
local band = bit.band
ffi.cdef [[
typedef struct { const char *comm; uint32_t comm_len; uint32_t open_flags; } eg_bench_ev;
int memcmp(const void *a, const void *b, size_t n);
]]
local MEMCMP = ffi.C.memcmp
local CAST, U32 = ffi.cast, ffi.typeof("const uint32_t *")
local NAMES = { "bash", "sshd", "nginx", "python3", "node", "systemd", "cron", "git", "make", "cc1",
  "java", "postgres", "containerd", "kubelet", "dockerd", "ls", "cat", "grep", "sh", "vim",
  "rsyslogd", "snapd", "chrome", "zsh", "apt-get", "dpkg", "perl", "ruby", "go", "redis-server" }
local N, PASSES = 300000, 30
local evs = ffi.new("eg_bench_ev[?]", N)
local keep = {}
math.randomseed(1)
for i = 0, N - 1 do
  local s = NAMES[math.random(#NAMES)]
  local b = ffi.new("char[?]", #s + 1)
  ffi.copy(b, s)
  keep[#keep + 1] = b
  evs[i].comm, evs[i].comm_len = b, #s
  evs[i].open_flags = math.random(2) == 1 and 0 or 0x80241
end

local function W(p, l)
  if l >= 4 then return CAST(U32, p)[0] end
  if l <= 0 then return 0 end
  local w = band(p[0], 255)
  if l >= 2 then w = w + band(p[1], 255) * 256 end
  if l >= 3 then w = w + band(p[2], 255) * 65536 end
  return w
end

local function word(s)
  local w = 0
  for k = 4, 1, -1 do w = w * 256 + (s:byte(k) or 0) end
  return w
end

-- mode: "found" (node, python3, perl, ruby: their buckets test the flags),
-- "idle" (the same words, buckets that do nothing), "none" (words no name has)
local function run(mode)
  local names = { "node", "python3", "perl", "ruby" }
  local wds = {}
  for k, n in ipairs(names) do wds[k] = mode == "none" and k or word(n) end
  local order = { 1, 2, 3, 4 }
  table.sort(order, function(a, b) return wds[a] < wds[b] end)
  local src = { "local W, MEMCMP, band, evs, N = ...", "return function(nh)", "  for i = 0, N - 1 do",
    "    local e = evs[i]", "    local w = W(e.comm, e.comm_len)" }
  local function leaf(k)
    if mode == "idle" then return "nh = nh + 0" end
    local n = names[k]
    return ("if e.comm_len == %d and MEMCMP(e.comm, %q, %d) == 0 and band(e.open_flags, 0x400) ~= 0 then nh = nh + 1 end")
      :format(#n, n, #n)
  end
  local a, b, c, d = order[1], order[2], order[3], order[4]
  src[#src + 1] = ("    if w <= %.0f then if w == %.0f then %s elseif w == %.0f then %s end"
    .. " else if w == %.0f then %s elseif w == %.0f then %s end end")
    :format(wds[b], wds[a], leaf(a), wds[b], leaf(b), wds[c], leaf(c), wds[d], leaf(d))
  src[#src + 1] = "  end"
  src[#src + 1] = "  return nh"
  src[#src + 1] = "end"
  local f = assert(loadstring(table.concat(src, "\n")))(W, MEMCMP, band, evs, N)
  f(0)
  local t0 = os.clock()
  for _ = 1, PASSES do f(0) end
  return (os.clock() - t0) * 1e9 / (PASSES * N)
end

for _, mode in ipairs({ "none", "idle", "found", "none", "idle", "found" }) do
  print(("%-6s %5.1f ns/event"):format(mode, run(mode)))
end
