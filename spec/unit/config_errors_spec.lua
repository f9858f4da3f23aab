local H = require("helpers.engine")

local DIR = "spec/fixtures/errors/"

-- Every config error: nil plus one exact message.
local function err_of(...)
  local paths = {}
  for i, n in ipairs({ ... }) do paths[i] = DIR .. n end
  local eng, err = H.new(paths)
  assert.is_nil(eng)
  return err
end

describe("config errors", function()
  it("a comm_regex syntax error, with PCRE2's message and offset", function()
    assert.equals("spec/fixtures/errors/bad_comm_regex.yaml: rule \"x\": comm_regex: invalid regex \"(?i)(bash\": missing closing parenthesis at offset 9",
      err_of("bad_comm_regex.yaml"))
  end)

  it("a condition with a Lua syntax error", function()
    assert.equals("spec/fixtures/errors/bad_condition.yaml: rule \"x\": condition: Lua syntax error in \"ev.dest_port >\": unexpected symbol near ')'",
      err_of("bad_condition.yaml"))
  end)

  it("a filename_regex syntax error", function()
    assert.equals("spec/fixtures/errors/bad_filename_regex.yaml: rule \"x\": filename_regex: invalid regex \"[a-\": missing terminating ] for character class at offset 3",
      err_of("bad_filename_regex.yaml"))
  end)

  it("an unknown severity, suggesting the closest", function()
    assert.equals("spec/fixtures/errors/bad_severity.yaml: rule \"x\": severity: unknown severity \"warn\" (did you mean \"warning\"?)",
      err_of("bad_severity.yaml"))
  end)

  it("every key repeated in one mapping, which YAML would silently drop", function()
    assert.equals("spec/fixtures/errors/duplicate_keys.yaml: line 7: duplicate key \"comm\" (first at line 6): "
      .. "a mapping keeps only the last, so the first would be ignored\n"
      .. "spec/fixtures/errors/duplicate_keys.yaml: line 9: duplicate key \"severity\" (first at line 8): "
      .. "a mapping keeps only the last, so the first would be ignored",
      err_of("duplicate_keys.yaml"))
  end)

  it("a rule reusing a built-in id", function()
    assert.equals("spec/fixtures/errors/builtin_id.yaml: rule \"builtin_crypto_port\": id: duplicate id \"builtin_crypto_port\" (a built-in heuristic; list it under disable_builtins to replace it)",
      err_of("builtin_id.yaml"))
  end)

  it("a condition that is not a string", function()
    assert.equals("spec/fixtures/errors/condition_number.yaml: rule \"x\": condition: expected a string, got number 1",
      err_of("condition_number.yaml"))
  end)

  it("a condition that is a statement, not an expression", function()
    assert.equals("spec/fixtures/errors/condition_statement.yaml: rule \"x\": condition: Lua syntax error in \"x = 1\": ')' expected near '='",
      err_of("condition_statement.yaml"))
  end)

  it("a description that is not a string", function()
    assert.equals("spec/fixtures/errors/description_number.yaml: rule \"x\": description: expected a string, got number 5",
      err_of("description_number.yaml"))
  end)

  it("disable_builtins that is not a list", function()
    assert.equals("spec/fixtures/errors/disable_builtins_string.yaml: disable_builtins: expected a list of built-in ids, got string \"builtin_crypto_port\"",
      err_of("disable_builtins_string.yaml"))
  end)

  it("a duplicate id across files, naming both places", function()
    assert.equals("spec/fixtures/errors/dup_b.yaml: rule \"shared\": id: duplicate id \"shared\" (first defined in spec/fixtures/errors/dup_a.yaml, rule #1)",
      err_of("dup_a.yaml", "dup_b.yaml"))
  end)

  it("a duplicate id in one file", function()
    assert.equals("spec/fixtures/errors/duplicate_id.yaml: rule \"x\": id: duplicate id \"x\" (first defined in spec/fixtures/errors/duplicate_id.yaml, rule #1)",
      err_of("duplicate_id.yaml"))
  end)

  it("an empty event_types list", function()
    assert.equals("spec/fixtures/errors/empty_event_types.yaml: rule \"x\": event_types: empty (list at least one of exec, open, connect, memfd, ptrace, module, bpf, setid, namespace, mount, link, rename, unlink, chmod, dup, listen, accept)",
      err_of("empty_event_types.yaml"))
  end)

  it("an empty id, naming the rule by index", function()
    assert.equals("spec/fixtures/errors/empty_id.yaml: rule #1: id: must not be empty",
      err_of("empty_id.yaml"))
  end)

  it("enabled that is not a boolean", function()
    assert.equals("spec/fixtures/errors/enabled_string.yaml: rule \"x\": enabled: expected true or false, got string \"no\"",
      err_of("enabled_string.yaml"))
  end)

  it("an event type that is not a string", function()
    assert.equals("spec/fixtures/errors/event_type_number.yaml: rule \"x\": event_types[1]: expected an event type name, got number 3",
      err_of("event_type_number.yaml"))
  end)

  it("event_types given as a string", function()
    assert.equals("spec/fixtures/errors/event_types_string.yaml: rule \"x\": event_types: expected a list of event types, got string \"exec\"",
      err_of("event_types_string.yaml"))
  end)

  it("the exit event type in a YAML rule", function()
    assert.equals("spec/fixtures/errors/exit_in_yaml.yaml: rule \"x\": event_types: unknown event type \"exit\" (exit events are only available to Lua detections)",
      err_of("exit_in_yaml.yaml"))
  end)

  it("an id that is not a string", function()
    assert.equals("spec/fixtures/errors/id_list.yaml: rule #1: id: expected a string, got a list",
      err_of("id_list.yaml"))
  end)

  it("a bad guard.regex pattern at load time", function()
    assert.equals("spec/fixtures/errors/lua_bad_guard_regex.lua: error while loading: spec/fixtures/errors/lua_bad_guard_regex.lua:2: guard.regex: invalid pattern \"(unclosed\": missing closing parenthesis at offset 9",
      err_of("lua_bad_guard_regex.lua"))
  end)

  it("an unknown event type in a Lua detection", function()
    assert.equals("spec/fixtures/errors/lua_bad_type.lua: detection \"x\": event_types: unknown event type \"fork\" (expected one of exec, open, connect, exit, memfd, ptrace, module, bpf, setid, namespace, mount, link, rename, unlink, chmod, dup, listen, accept)",
      err_of("lua_bad_type.lua"))
  end)

  it("a runtime error while loading a Lua file", function()
    assert.equals("spec/fixtures/errors/lua_load_error.lua: error while loading: spec/fixtures/errors/lua_load_error.lua:2: attempt to index local 't' (a nil value)",
      err_of("lua_load_error.lua"))
  end)

  it("a match that is not a function", function()
    assert.equals("spec/fixtures/errors/lua_match_string.lua: detection \"x\": match: expected a function, got string \"yes\"",
      err_of("lua_match_string.lua"))
  end)

  it("a Lua detection without id, naming it by index", function()
    assert.equals("spec/fixtures/errors/lua_missing_id.lua: detection #2: id: missing",
      err_of("lua_missing_id.lua"))
  end)

  it("a Lua detection without match", function()
    assert.equals("spec/fixtures/errors/lua_missing_match.lua: detection \"x\": match: missing (a function(ev) returning true, a table or nil)",
      err_of("lua_missing_match.lua"))
  end)

  it("a list entry that is not a table", function()
    assert.equals("spec/fixtures/errors/lua_not_table.lua: detection #1: expected a detection table, got string \"oops\"",
      err_of("lua_not_table.lua"))
  end)

  it("require of a module other than guard", function()
    assert.equals("spec/fixtures/errors/lua_require_os.lua: error while loading: spec/fixtures/errors/lua_require_os.lua:1: require: module \"os\" is not available in the sandbox (only \"guard\")",
      err_of("lua_require_os.lua"))
  end)

  it("a Lua file that returns nothing", function()
    assert.equals("spec/fixtures/errors/lua_returns_nil.lua: expected the file to return a detection (a table) or a list of them, got nothing",
      err_of("lua_returns_nil.lua"))
  end)

  it("a Lua syntax error, with the line", function()
    assert.equals("spec/fixtures/errors/lua_syntax.lua: Lua syntax error at line 4: '}' expected (to close '{' at line 1) near 'event_types'",
      err_of("lua_syntax.lua"))
  end)

  it("an endless loop at the top of a Lua file (instruction budget)", function()
    assert.equals("spec/fixtures/errors/lua_top_loop.lua: error while loading: spec/fixtures/errors/lua_top_loop.lua:2: instruction budget exceeded",
      err_of("lua_top_loop.lua"))
  end)

  it("an unknown key in a Lua detection", function()
    assert.equals("spec/fixtures/errors/lua_unknown_key.lua: detection \"x\": matches: unknown key (did you mean \"match\"?)",
      err_of("lua_unknown_key.lua"))
  end)

  it("min_dest_port greater than max_dest_port", function()
    assert.equals("spec/fixtures/errors/min_gt_max.yaml: rule \"x\": min_dest_port: 6000 is greater than max_dest_port 5000",
      err_of("min_gt_max.yaml"))
  end)

  it("a missing description", function()
    assert.equals("spec/fixtures/errors/missing_description.yaml: rule \"x\": description: missing",
      err_of("missing_description.yaml"))
  end)

  it("missing event_types", function()
    assert.equals("spec/fixtures/errors/missing_event_types.yaml: rule \"x\": event_types: missing (list at least one of exec, open, connect, memfd, ptrace, module, bpf, setid, namespace, mount, link, rename, unlink, chmod, dup, listen, accept)",
      err_of("missing_event_types.yaml"))
  end)

  it("a missing id, naming the rule by index", function()
    assert.equals("spec/fixtures/errors/missing_id.yaml: rule #2: id: missing",
      err_of("missing_id.yaml"))
  end)

  it("a port that is not an integer", function()
    assert.equals("spec/fixtures/errors/port_fraction.yaml: rule \"x\": min_dest_port: expected an integer in 0..65535, got number 33.5",
      err_of("port_fraction.yaml"))
  end)

  it("a negative port", function()
    assert.equals("spec/fixtures/errors/port_negative.yaml: rule \"x\": min_dest_port: expected an integer in 0..65535, got number -1",
      err_of("port_negative.yaml"))
  end)

  it("a port given as a string", function()
    assert.equals("spec/fixtures/errors/port_string.yaml: rule \"x\": min_dest_port: expected an integer in 0..65535, got string \"3333\"",
      err_of("port_string.yaml"))
  end)

  it("a port above 65535", function()
    assert.equals("spec/fixtures/errors/port_too_big.yaml: rule \"x\": max_dest_port: expected an integer in 0..65535, got number 70000",
      err_of("port_too_big.yaml"))
  end)

  it("a port of 65536, one past the largest", function()
    assert.equals("spec/fixtures/errors/port_65536.yaml: rule \"x\": min_dest_port: expected an integer in 0..65535, got number 65536",
      err_of("port_65536.yaml"))
  end)

  it("a regex that is not a string", function()
    assert.equals("spec/fixtures/errors/regex_number.yaml: rule \"x\": comm_regex: expected a string, got number 42",
      err_of("regex_number.yaml"))
  end)

  it("a rule that is not a mapping", function()
    assert.equals("spec/fixtures/errors/rule_string.yaml: rule #1: expected a mapping with the rule's keys, got string \"just a string\"",
      err_of("rule_string.yaml"))
  end)

  it("rules that is not a list", function()
    assert.equals("spec/fixtures/errors/rules_mapping.yaml: rules: expected a list of rules, got a mapping",
      err_of("rules_mapping.yaml"))
  end)

  it("a severity that is not a string", function()
    assert.equals("spec/fixtures/errors/severity_number.yaml: rule \"x\": severity: expected a string, got number 3",
      err_of("severity_number.yaml"))
  end)

  it("a tag that is not a string", function()
    assert.equals("spec/fixtures/errors/tags_number.yaml: rule \"x\": tags[2]: expected a string, got number 7",
      err_of("tags_number.yaml"))
  end)

  it("tags given as a string", function()
    assert.equals("spec/fixtures/errors/tags_string.yaml: rule \"x\": tags: expected a list of strings, got string \"T1059\"",
      err_of("tags_string.yaml"))
  end)

  it("a top level that is not a mapping", function()
    assert.equals("spec/fixtures/errors/top_level_list.yaml: expected a mapping with a \"rules\" list at the top level, got a list",
      err_of("top_level_list.yaml"))
  end)

  it("an unknown disable_builtins id, suggesting the closest", function()
    assert.equals("spec/fixtures/errors/unknown_builtin.yaml: disable_builtins[1]: unknown built-in id \"builtin_shell\" (did you mean \"builtin_suspicious_shell\"?)",
      err_of("unknown_builtin.yaml"))
  end)

  it("an unknown event type, suggesting the closest", function()
    assert.equals("spec/fixtures/errors/unknown_event_type.yaml: rule \"x\": event_types: unknown event type \"exce\" (did you mean \"exec\"?)",
      err_of("unknown_event_type.yaml"))
  end)

  it("a misspelt key, suggesting the closest", function()
    assert.equals("spec/fixtures/errors/unknown_key.yaml: rule \"x\": filname_regex: unknown key (did you mean \"filename_regex\"?)",
      err_of("unknown_key.yaml"))
  end)

  it("an unknown key with no close match, listing the known keys", function()
    assert.equals("spec/fixtures/errors/unknown_key_far.yaml: rule \"x\": colour: unknown key (expected one of id, description, event_types, comm_regex, filename_regex, min_dest_port, max_dest_port, severity, tags, enabled, condition, match, exceptions, action)",
      err_of("unknown_key_far.yaml"))
  end)

  it("a misspelt id key", function()
    assert.equals("spec/fixtures/errors/unknown_key_no_id.yaml: rule #1: idd: unknown key (did you mean \"id\"?)",
      err_of("unknown_key_no_id.yaml"))
  end)

  it("an unknown top-level key", function()
    assert.equals("spec/fixtures/errors/unknown_top_key.yaml: rule: unknown top-level key (did you mean \"rules\"?)",
      err_of("unknown_top_key.yaml"))
  end)

  it("a file that is neither YAML nor Lua", function()
    assert.equals("spec/fixtures/errors/unsupported.txt: unsupported config file (expected a .yaml, .yml or .lua file, or a directory of them)",
      err_of("unsupported.txt"))
  end)

  it("a YAML syntax error, with line and column", function()
    assert.equals("spec/fixtures/errors/yaml_syntax.yaml: YAML syntax error at line 3, column 19: did not find expected ',' or ']'",
      err_of("yaml_syntax.yaml"))
  end)

  it("a Lua detection table with a metatable", function()
    assert.equals('spec/fixtures/errors/lua_metatable.lua: detection #1: must be a plain table (no metatable)',
      err_of("lua_metatable.lua"))
  end)

  it("a detection table with a metatable and no id, without calling its __index", function()
    assert.equals('spec/fixtures/errors/lua_metatable_noid.lua: detection #1: must be a plain table (no metatable)',
      err_of("lua_metatable_noid.lua"))
  end)

  it("a key that is not a string, without calling its __tostring", function()
    assert.equals('spec/fixtures/errors/lua_table_key.lua: detection "x": (table key): unknown key (expected one of id, description, event_types, match, filter, stored, once, once_per, params, severity, tags, enabled, action)',
      err_of("lua_table_key.lua"))
  end)

  it("a file with several YAML documents", function()
    assert.equals("spec/fixtures/errors/two_documents.yaml: 2 YAML documents (put every rule in one document, without ---)",
      err_of("two_documents.yaml"))
  end)

  it("a missing file", function()
    assert.equals("spec/fixtures/errors/does_not_exist.yaml: cannot open file: No such file or directory",
      err_of("does_not_exist.yaml"))
  end)

  it("a missing path without extension", function()
    assert.equals("spec/fixtures/errors/does_not_exist: cannot open file: No such file or directory",
      err_of("does_not_exist"))
  end)

  it("lists the problems of every bad file of a directory, one per line", function()
    local eng, err = H.new({ "spec/fixtures/errors" })
    assert.is_nil(eng)
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equals("spec/fixtures/errors/bad_comm_regex.yaml: rule \"x\": comm_regex: invalid regex \"(?i)(bash\": missing closing parenthesis at offset 9", lines[1])
    -- each file's own problem is there, not only the first file's
    for _, l in ipairs({
      "spec/fixtures/errors/bad_severity.yaml: rule \"x\": severity: unknown severity \"warn\" (did you mean \"warning\"?)",
      "spec/fixtures/errors/yaml_syntax.yaml: YAML syntax error at line 3, column 19: did not find expected ',' or ']'",
      "spec/fixtures/errors/two_documents.yaml: 2 YAML documents (put every rule in one document, without ---)",
    }) do
      local found = false
      for _, x in ipairs(lines) do if x == l then found = true end end
      assert.is_true(found, l)
    end
  end)
end)
