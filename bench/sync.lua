-- sync.lua -- wrk: PUT a bench character's whole bank (ITEMS items, default
-- 800) with a few quantities changed each time and a growing seq.  Each
-- thread owns its own characters, so seqs only grow and every PUT applies.
-- env GROUPS, ITEMS, ITEMS_FILE (items.txt written by gen_data.py).
local groups = tonumber(os.getenv("GROUPS") or "1000")
local nitems = tonumber(os.getenv("ITEMS") or "800")
local base = 1000000
local threads = {}
local n = 0

function setup(thread)
	n = n + 1
	thread:set("tid", n)
	table.insert(threads, thread)
	for _, t in ipairs(threads) do t:set("nthreads", #threads) end
end

local priced, seq, qty = {}, {}, {}

function init(args)
	math.randomseed(tid * 104729 + os.time())
	for line in io.lines(os.getenv("ITEMS_FILE")) do
		priced[#priced + 1] = tonumber(line)
	end
end

local function bank(uid)
	if qty[uid] == nil then
		local q = {}
		for j = 0, nitems - 1 do q[j] = 1 + (uid + j) % 1000 end
		qty[uid] = q
		seq[uid] = 1
	end
	return qty[uid]
end

function request()
	-- characters of this thread: index i with i % nthreads == tid - 1
	local users = groups * 5
	local i = math.random(0, math.floor(users / nthreads) - 1) * nthreads + (tid - 1)
	local uid = base + i
	local q = bank(uid)
	for _ = 1, 3 do
		local j = math.random(0, nitems - 1)
		q[j] = q[j] % 1000 + 1
	end
	seq[uid] = seq[uid] + 1
	local start = (uid * 37) % #priced
	local parts = {}
	for j = 0, nitems - 1 do
		parts[#parts + 1] = string.format('{"id":%d,"qty":%d}', priced[(start + j) % #priced + 1], q[j])
	end
	local body = '{"seq":' .. seq[uid] .. ',"items":[' .. table.concat(parts, ",") .. ']}'
	return wrk.format("PUT", "/api/v1/sync/characters/b" .. uid .. "/containers/bank", {
		["Authorization"] = "Bearer cfr_bench_" .. uid,
		["Content-Type"] = "application/json",
	}, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.status, summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout))
end
