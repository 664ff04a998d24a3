-- vault.lua -- wrk: GET a random bench group's vault (default page) as its owner.
-- env GROUPS (default 1000); ids and tokens as bench/gen_data.py makes them.
local groups = tonumber(os.getenv("GROUPS") or "1000")
local base = 1000000
local n = 0

function setup(thread)
	n = n + 1
	thread:set("tid", n)
end

function init(args)
	math.randomseed(tid * 7919 + os.time())
end

function request()
	local g = math.random(groups) - 1
	local owner = base + g * 5
	return wrk.format("GET", "/api/v1/groups/" .. (base + g) .. "/vault", {
		["Authorization"] = "Bearer cfr_bench_" .. owner,
	})
end

function done(summary, latency, requests)
	io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.errors.status, summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout))
end
