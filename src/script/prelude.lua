-- shardis: the Lua side of the script sandbox, run once when a shard's VM starts.
-- It receives the internals table I (Rust functions and the restart sentinel) and returns
-- the script driver, the environments scripts run in, and the function-library hooks.
local I = ...
local G = _G
local create, resume, status, yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local getinfo = debug.getinfo
local rawset_, rawget_, setmetatable_, getmetatable_ = rawset, rawget, setmetatable, getmetatable
local type, error, select, unpack, tostring, next = type, error, select, unpack, tostring, next
local native_pcall, native_xpcall, loadstring_, setfenv_ = pcall, xpcall, loadstring, setfenv
local RESTART = I.restart

-- Drives a coroutine to its end, passing each of its yields (a command waiting for another
-- shard, a long script letting its shard serve) on to the calling coroutine: true and the
-- coroutine's results, or false and its error value.
local function step(co, ok, ...)
  if not ok then return false, ... end
  if status(co) == 'dead' then return true, ... end
  return step(co, resume(co, yield(...)))
end

-- The position in the script's own code where an error was raised (skipping C functions
-- and this sandbox's wrappers), as Redis's error handler reports it.
local function where(co)
  for level = 0, 50 do
    local i = getinfo(co, level, 'Sl')
    if not i then return nil end
    if i.what ~= 'C' and i.what ~= 'tail' and i.source ~= '=shardis' and i.source ~= '__mlua_async_poll' then return i end
  end
end

local function errinfo(co, err)
  if err == RESTART then return err end
  local i = where(co)
  if type(err) ~= 'table' then err = { err = 'ERR ' .. tostring(err) } end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

-- Scripts run in one long-lived coroutine, the worker, so that a run creates no coroutine
-- of its own: it takes a job, runs it, and yields DONE with the job's first result. A
-- script's error ends the worker; the next run starts another.
local DONE = {}
local worker
local function work_loop(f, a, b)
  while true do
    local r = f(a, b)
    f, a, b = nil, nil, nil
    f, a, b = yield(DONE, r)
  end
end

-- Passes the worker's yields on (a command waiting for another shard, a long script
-- letting its shard serve) until it yields DONE or fails.
local function finish(co, ok, first, ...)
  if not ok then return false, first end
  if first == DONE then return true, (...) end
  return finish(co, resume(co, yield(first, ...)))
end

-- The script driver: runs a script function, an EVAL script with KEYS and ARGV as globals
-- of its environment, a function with them as arguments. Returns true and its first
-- result, or false and Redis's error table {err=..., source=..., line=...}.
local eval_env
local function driver(eval, f, keys, argv)
  if not worker or status(worker) == 'dead' then worker = create(work_loop) end
  local co = worker
  local ok, r
  if eval then
    rawset_(eval_env, 'KEYS', keys)
    rawset_(eval_env, 'ARGV', argv)
    ok, r = finish(co, resume(co, f))
    rawset_(eval_env, 'KEYS', nil)
    rawset_(eval_env, 'ARGV', nil)
  else
    ok, r = finish(co, resume(co, f, keys, argv))
  end
  if ok then return true, r end
  return false, errinfo(co, r)
end

-- pcall and xpcall that let yields through (Lua 5.1's own cannot); as in Redis, an error
-- table with an err field reaches pcall's caller as that message.
-- coroutine.create takes Lua functions only: a C function is called through a Lua one.
local function lua_fn(f)
  if getinfo(f, 'S').what == 'C' then return function(...) return f(...) end end
  return f
end

local function pcall_done(ok, ...)
  if ok then return true, ... end
  local r = ...
  if r == RESTART then error(r, 0) end
  if type(r) == 'table' and type(rawget_(r, 'err')) == 'string' then r = r.err end
  return false, r
end

local function pcall_(f, ...)
  if type(f) ~= 'function' then return native_pcall(f, ...) end
  local co = create(lua_fn(f))
  return pcall_done(step(co, resume(co, ...)))
end

local function xpcall_done(handler, ok, ...)
  if ok then return true, ... end
  local r = ...
  if r == RESTART then error(r, 0) end
  return false, handler(r)
end

local function xpcall_(f, handler)
  if type(f) ~= 'function' then return native_xpcall(f, handler) end
  local co = create(lua_fn(f))
  return xpcall_done(handler, step(co, resume(co)))
end

-- Read-only views: a protected table is an empty proxy whose reads go to the real table
-- and whose writes fail, as Redis's read-only tables do.
local protected = setmetatable_({}, { __mode = 'k' })
local function readonly() error('Attempt to modify a readonly table', 2) end
local function protect(t, index)
  local p = {}
  local mt = { __index = index or t, __newindex = readonly }
  local view = setmetatable_({}, { __index = mt, __newindex = readonly })
  protected[view] = true
  mt.__metatable = view
  setmetatable_(p, mt)
  protected[p] = true
  return p, mt
end

-- The globals Redis keeps (its allow lists); everything else goes.
local keep = {
  string = 1, cjson = 1, bit = 1, cmsgpack = 1, math = 1, table = 1, struct = 1, redis = 1,
  xpcall = 1, tostring = 1, getfenv = 1, setmetatable = 1, next = 1, assert = 1, tonumber = 1,
  rawequal = 1, collectgarbage = 1, getmetatable = 1, rawset = 1, pcall = 1, coroutine = 1,
  type = 1, _G = 1, select = 1, unpack = 1, gcinfo = 1, pairs = 1, rawget = 1, loadstring = 1,
  ipairs = 1, _VERSION = 1, setfenv = 1, load = 1, error = 1, newproxy = 1,
}
local drop = {}
for k in next, G do if not keep[k] then drop[#drop + 1] = k end end
for _, k in ipairs(drop) do G[k] = nil end

G.pcall = pcall_
G.xpcall = xpcall_
G.setmetatable = function(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable_(t, mt)
end
G.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return rawset_(t, k, v)
end
local getfenv_ = getfenv
G.getfenv = function(f)
  if f == nil then f = 1 end
  if type(f) == 'number' and f > 0 then f = f + 1 end
  local e = getfenv_(f)
  if e == G then return G._G end
  return e
end

-- math.random and math.randomseed on Redis's own generator, reseeded for every script.
G.math.random = I.random
G.math.randomseed = I.randomseed

-- The redis table.
local call_now, raw_call, log, setresp, sha1hex = I.call_now, I.call, I.log, I.setresp, I.sha1hex
local redis = {}

local function push_error(s)
  local code, msg
  if s:sub(1, 1) == '-' then
    local sp = s:find(' ', 1, true)
    if sp then code, msg = s:sub(2, sp - 1), s:sub(sp + 1) else code, msg = 'ERR', s:sub(2) end
  else
    code, msg = 'ERR', s
  end
  msg = (msg:gsub('^[\r\n]+', ''))
  msg = (msg:gsub('[\r\n]+$', ''))
  return { err = code .. ' ' .. msg }
end

-- A command runs at once when it can (call_now), else through the dispatcher (raw_call),
-- whose coroutine may wait for another shard. Thousands of arguments go the second way
-- (mlua's synchronous callbacks take fewer).
local function call(...)
  if select('#', ...) < 1000 then
    local kind, v = call_now(...)
    if kind ~= 3 then return kind, v end
  end
  return raw_call(...)
end

function redis.call(...)
  local kind, v = call(...)
  if kind == 0 then return v end
  if kind == 2 then error(RESTART, 0) end
  error(v, 0)
end

function redis.pcall(...)
  local kind, v = call(...)
  if kind == 2 then error(RESTART, 0) end
  return v
end

function redis.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  if e:sub(1, 1) ~= '-' then e = '-' .. e end
  return push_error(e)
end

function redis.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  return { ok = s }
end

function redis.sha1hex(...)
  if select('#', ...) ~= 1 then error({ err = 'ERR wrong number of arguments' }, 0) end
  local s = ...
  return sha1hex(type(s) == 'number' and tostring(s) or (type(s) == 'string' and s or ''))
end

local function log_fn(...)
  local n = select('#', ...)
  if n < 2 then error({ err = 'ERR redis.log() requires two arguments or more.' }, 0) end
  local level = ...
  if type(level) ~= 'number' and not (type(level) == 'string' and tonumber(level)) then
    error({ err = 'ERR First argument must be a number (log level).' }, 0)
  end
  level = tonumber(level)
  if level < 0 or level > 3 then error({ err = 'ERR Invalid debug level.' }, 0) end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if type(v) == 'string' or type(v) == 'number' then parts[#parts + 1] = tostring(v) end
  end
  log(level, table.concat(parts, ' '))
end
redis.log = log_fn
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

function redis.setresp(...)
  if select('#', ...) ~= 1 then error({ err = 'ERR redis.setresp() requires one argument.' }, 0) end
  local v = tonumber((...))
  if v ~= 2 and v ~= 3 then error({ err = 'ERR RESP version must be 2 or 3.' }, 0) end
  setresp(v)
end

redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
function redis.set_repl(...)
  if select('#', ...) ~= 1 then error({ err = 'ERR redis.set_repl() requires two arguments.' }, 0) end
  local f = tonumber((...))
  if not f or f < 0 or f > 3 or f % 1 ~= 0 then
    error({ err = 'ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.' }, 0)
  end
end
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end
function redis.acl_check_cmd(...)
  if not I.command_exists(...) then error({ err = 'ERR Invalid command passed to redis.acl_check_cmd()' }, 0) end
  return true
end
redis.REDIS_VERSION = I.version
redis.REDIS_VERSION_NUM = I.version_num

-- Libraries' functions are registered through the load-time redis table.
local registered
local load_redis = {
  log = log_fn,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = I.version, REDIS_VERSION_NUM = I.version_num,
}
local function name_ok(s) return type(s) == 'string' and #s > 0 and not s:find('[^%w_]') end
local flag_names = { ['no-writes'] = 1, ['allow-oom'] = 1, ['allow-stale'] = 1, ['no-cluster'] = 1, ['allow-cross-slot-keys'] = 1 }
function load_redis.register_function(...)
  local n = select('#', ...)
  local name, cb, flags, desc
  if n == 1 then
    local t = ...
    if type(t) ~= 'table' then
      error({ err = 'ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).' }, 0)
    end
    for k, v in next, t do
      if type(k) ~= 'string' then error({ err = 'ERR named argument key given to redis.register_function is not a string' }, 0) end
      local lk = k:lower()
      if lk == 'function_name' then
        if type(v) ~= 'string' then error({ err = 'ERR function_name argument given to redis.register_function must be a string' }, 0) end
        name = v
      elseif lk == 'description' then
        if type(v) ~= 'string' then error({ err = 'ERR description argument given to redis.register_function must be a string' }, 0) end
        desc = v
      elseif lk == 'callback' then
        if type(v) ~= 'function' then error({ err = 'ERR callback argument given to redis.register_function must be a function' }, 0) end
        cb = v
      elseif lk == 'flags' then
        if type(v) ~= 'table' then error({ err = 'ERR flags argument to redis.register_function must be a table representing function flags' }, 0) end
        flags = {}
        for i = 1, #v do
          local f = v[i]
          if type(f) ~= 'string' or not flag_names[f:lower()] then error({ err = 'ERR unknown flag given' }, 0) end
          flags[#flags + 1] = f:lower()
        end
      else
        error({ err = 'ERR unknown argument given to redis.register_function' }, 0)
      end
    end
    if not name then error({ err = 'ERR redis.register_function must get a function name argument' }, 0) end
    if not cb then error({ err = 'ERR redis.register_function must get a callback argument' }, 0) end
  elseif n == 2 then
    name, cb = ...
    if type(name) ~= 'string' then error({ err = 'ERR first argument to redis.register_function must be a string' }, 0) end
    if type(cb) ~= 'function' then error({ err = 'ERR second argument to redis.register_function must be a function' }, 0) end
  else
    error({ err = 'ERR wrong number of arguments to redis.register_function' }, 0)
  end
  if not registered then
    error({ err = 'ERR redis.register_function can only be called on FUNCTION LOAD command' }, 0)
  end
  if not name_ok(name) then
    error({ err = 'ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long' }, 0)
  end
  if registered.byname[name] then error({ err = 'ERR Function already exists in the library' }, 0) end
  local f = { name = name, callback = cb, flags = flags or {}, description = desc }
  registered.byname[name] = f
  registered[#registered + 1] = f
end

-- Protect the libraries and the globals; reading a missing global is an error.
for _, lib in ipairs({ 'string', 'cjson', 'bit', 'cmsgpack', 'math', 'table', 'struct', 'coroutine' }) do
  if G[lib] then G[lib] = protect(G[lib]) end
end
G.redis = protect(redis)
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
G.loadstring = function(s, name)
  if type(s) == 'string' and s:sub(1, 1) == '\27' then return nil, 'binary chunks are not allowed' end
  local f, e = loadstring_(s, name)
  if f then setfenv_(f, getfenv_(2)) end
  return f, e
end
local string_mt = getmetatable_('')
string_mt.__metatable = protect(string_mt)

-- EVAL scripts' globals: a read-only view of the globals, holding KEYS and ARGV. The real
-- globals refuse writes too (getfenv(0) reaches them).
eval_env = protect(G)
rawset_(G, '_G', eval_env)
setmetatable_(G, { __index = missing, __newindex = readonly, __metatable = protect({}) })
protected[G] = true

-- Function libraries' globals: while a library loads, only the load-time redis table;
-- afterwards (when its functions run), the same globals as scripts.
local load_redis_view = protect(setmetatable_(load_redis, { __index = missing }))
local load_api = protect(setmetatable_({ redis = load_redis_view }, { __index = missing }))
local fn_env, fn_mt = protect(G)
local function load_library(chunk)
  setfenv_(chunk, fn_env)
  registered = { byname = {} }
  fn_mt.__index = load_api
  local co = create(chunk)
  local ok, r = step(co, resume(co))
  fn_mt.__index = G
  local got = registered
  registered = nil
  if not ok then return false, errinfo(co, r) end
  return true, got
end

return driver, eval_env, fn_env, load_library
