package fxmodule_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// at returns preset pointed at addr.
func at(preset profiles.Config, addr string) profiles.Config {
	preset.Addr = addr
	return preset
}

// configsAt points both sides at addr.
func configsAt(addr string) fxmodule.Configs {
	return fxmodule.Configs{API: at(profiles.API(), addr), Worker: at(profiles.Worker(), addr)}
}

// clearRedisEnv makes sure the environment of the test run does not choose
// a server for the tests that read it.
func clearRedisEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_CLUSTER_ADDRS",
		"REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "REDIS_PASSWORD", "REDIS_USERNAME",
		"REDIS_DB", "REDIS_TLS", "REDIS_MAX_CONNECTIONS", "WORKER_REDIS_MAX_CONNECTIONS",
		"REDIS_WORKER_MAX_CONNECTIONS", "REDIS_MAX_CONCURRENT_OPS", "REDIS_WORKER_MAX_CONCURRENT_OPS"} {
		t.Setenv(k, "")
	}
}

// unreachable returns an address nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// sides collects what the module provides.
type sides struct {
	fx.In

	API          redis.UniversalClient `name:"redis_api"`
	Worker       redis.UniversalClient `name:"redis_worker"`
	APIClient    *profiles.Client      `name:"redis_api_client"`
	WorkerClient *profiles.Client      `name:"redis_worker_client"`
	APIMonitor   *health.Monitor       `name:"redis_api"`
	WorkerMon    *health.Monitor       `name:"redis_worker"`
	Health       http.Handler          `name:"redis_health"`
}

func populate(dst *sides) fx.Option {
	return fx.Invoke(func(s sides) { *dst = s })
}

func TestStartStopAgainstRealServer(t *testing.T) {
	srv := redistest.Start(t)
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(configsAt(srv.Addr())), fxmodule.Module, populate(&s))
	app.RequireStart()

	ctx := context.Background()
	if err := s.API.Set(ctx, "fx:api", "a", 0).Err(); err != nil {
		t.Fatalf("API SET: %v", err)
	}
	if got, err := s.Worker.Get(ctx, "fx:api").Result(); err != nil || got != "a" {
		t.Fatalf("Worker GET = %q, %v; want \"a\"", got, err)
	}

	app.RequireStop()
	for name, c := range map[string]redis.UniversalClient{"api": s.API, "worker": s.Worker} {
		if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Errorf("%s client after stop: PING error %v, want redis.ErrClosed", name, err)
		}
	}
}

func TestStartFailsWhenRedisIsUnreachable(t *testing.T) {
	addr := unreachable(t)
	cfgs := fxmodule.Configs{
		API:    profiles.Config{URL: "redis://app:s3cretpw@" + addr + "/0"},
		Worker: at(profiles.Worker(), addr),
	}
	for _, tc := range []struct {
		name   string
		module fx.Option
		want   string
	}{
		{"api", fxmodule.APIModule, "redis://app:xxxxx@" + addr + "/0"},
		{"worker", fxmodule.WorkerModule, addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fxtest.New(t, fx.NopLogger, fx.Supply(cfgs), fx.Supply(fxmodule.Options{PingTimeout: 300 * time.Millisecond}),
				tc.module,
				fx.Invoke(fx.Annotate(func(http.Handler) {}, fx.ParamTags(`name:"redis_health"`))))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := app.Start(ctx)
			if err == nil {
				app.RequireStop()
				t.Fatal("start succeeded with no server at " + addr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.name+" client") {
				t.Errorf("start error %q does not name the %s client and %q", msg, tc.name, tc.want)
			}
			if strings.Contains(msg, "s3cretpw") {
				t.Errorf("start error leaks the password: %q", msg)
			}
		})
	}
}

func TestStartWithoutRedis(t *testing.T) {
	addr := unreachable(t)
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(configsAt(addr)),
		fx.Supply(fxmodule.Options{PingTimeout: 200 * time.Millisecond, StartWithoutRedis: true,
			Monitor: health.Options{PingTimeout: 200 * time.Millisecond}}),
		fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()

	// Three failed checks make a monitor unhealthy (the default health.Rules).
	ctx := context.Background()
	for range 3 {
		s.APIMonitor.Check(ctx)
		s.WorkerMon.Check(ctx)
	}
	rec := httptest.NewRecorder()
	s.Health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/health with no server: %d, want 503; body %s", rec.Code, rec.Body)
	}
	var body struct {
		Status   health.Status
		Monitors map[string]struct {
			Status    health.Status
			LastError string `json:"last_error"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "worker"} {
		m := body.Monitors[name]
		if m.Status != health.StatusUnhealthy || m.LastError == "" {
			t.Errorf("monitor %s: status %q, last error %q; want unhealthy with an error", name, m.Status, m.LastError)
		}
	}
}

func TestSuppliedConfigWinsOverEnv(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+unreachable(t))
	t.Setenv("REDIS_MAX_CONNECTIONS", "not-a-number") // would fail if read

	for _, tc := range []struct {
		name string
		opt  fx.Option
	}{
		{"supply", fx.Supply(configsAt(srv.Addr()))},
		{"replace", fx.Replace(configsAt(srv.Addr()))},
		{"replace after supply", fx.Options(fx.Supply(configsAt("127.0.0.1:1")), fx.Replace(configsAt(srv.Addr())))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sides
			app := fxtest.New(t, fx.NopLogger, tc.opt, fxmodule.Module, populate(&s))
			app.RequireStart()
			defer app.RequireStop()
			for _, c := range []*profiles.Client{s.APIClient, s.WorkerClient} {
				if got := c.Config().Addr; got != srv.Addr() {
					t.Errorf("%s client at %q, want the supplied %q", c.Config().Name, got, srv.Addr())
				}
				if err := c.Ping(context.Background()).Err(); err != nil {
					t.Errorf("%s PING: %v", c.Config().Name, err)
				}
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+srv.Addr()+"/3")
	t.Setenv("REDIS_MAX_CONNECTIONS", "17")
	t.Setenv("REDIS_MAX_CONCURRENT_OPS", "12")
	t.Setenv("WORKER_REDIS_MAX_CONNECTIONS", "33")
	t.Setenv("REDIS_WORKER_MAX_CONCURRENT_OPS", "30")

	var (
		s    sides
		cfgs struct {
			fx.In
			API    profiles.Config `name:"redis_api"`
			Worker profiles.Config `name:"redis_worker"`
		}
	)
	app := fxtest.New(t, fx.NopLogger, fxmodule.Module, populate(&s),
		fx.Invoke(func(c struct {
			fx.In
			API    profiles.Config `name:"redis_api"`
			Worker profiles.Config `name:"redis_worker"`
		}) {
			cfgs = c
		}))
	app.RequireStart()
	defer app.RequireStop()

	api, worker := s.APIClient.Config(), s.WorkerClient.Config()
	if cfgs.API.String() != api.String() || cfgs.Worker.String() != worker.String() {
		t.Errorf("provided configs differ from the clients':\n%s\n%s", cfgs.API, cfgs.Worker)
	}
	if api.Name != profiles.NameAPI || api.PoolSize != 17 || api.MaxConcurrentOps != 12 {
		t.Errorf("API config from env: name %q pool %d ops %d; want api 17 12", api.Name, api.PoolSize, api.MaxConcurrentOps)
	}
	if worker.Name != profiles.NameWorker || worker.PoolSize != 33 || worker.MaxConcurrentOps != 30 {
		t.Errorf("Worker config from env: name %q pool %d ops %d; want worker 33 30", worker.Name, worker.PoolSize, worker.MaxConcurrentOps)
	}
	ctx := context.Background()
	if err := s.API.Set(ctx, "fx:env", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// REDIS_URL chose database 3 for both clients.
	direct := srv.Client(t, &redis.Options{DB: 3})
	if got := direct.Get(ctx, "fx:env").Val(); got != "1" {
		t.Errorf("key written through the env-configured client not found in db 3 (got %q)", got)
	}
}

func TestZeroSideIsReadFromEnv(t *testing.T) {
	clearRedisEnv(t)
	apiSrv, envSrv := redistest.Start(t), redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://"+envSrv.Addr())

	var s sides
	// Worker has no Name: it must take the Worker preset, not the API one.
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(fxmodule.Configs{Worker: profiles.Config{Addr: apiSrv.Addr()}}),
		fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()

	if got := s.APIClient.Config(); got.URL != "redis://"+envSrv.Addr() {
		t.Errorf("API side left zero: URL %q, want REDIS_URL %q", got.URL, "redis://"+envSrv.Addr())
	}
	w := s.WorkerClient.Config()
	if w.Addr != apiSrv.Addr() || w.Name != profiles.NameWorker || w.PoolSize != profiles.Worker().PoolSize {
		t.Errorf("Worker side: addr %q name %q pool %d; want %q worker %d", w.Addr, w.Name, w.PoolSize, apiSrv.Addr(), profiles.Worker().PoolSize)
	}
}

func TestBadEnvFailsConstruction(t *testing.T) {
	clearRedisEnv(t)
	t.Setenv("WORKER_REDIS_MAX_CONNECTIONS", "lots")
	app := fx.New(fx.NopLogger, fxmodule.Module,
		fx.Invoke(fx.Annotate(func(redis.UniversalClient) {}, fx.ParamTags(`name:"redis_worker"`))))
	err := app.Err()
	if err == nil || !strings.Contains(err.Error(), "WORKER_REDIS_MAX_CONNECTIONS") {
		t.Fatalf("fx.New error %v, want one naming WORKER_REDIS_MAX_CONNECTIONS", err)
	}
}

// recorder is a hook that records "name key" of every command it sees.
type recorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

func newRecorder() *recorder { return &recorder{seen: map[string]bool{}} }

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			r.record(c)
		}
		return next(ctx, cmds)
	}
}

func (r *recorder) record(cmd redis.Cmder) {
	key := cmd.Name()
	if args := cmd.Args(); len(args) > 1 {
		key += " " + fmt.Sprint(args[1])
	}
	r.mu.Lock()
	r.seen[key] = true
	r.mu.Unlock()
}

func (r *recorder) saw(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key]
}

func TestGroupHooksRunOnCommands(t *testing.T) {
	srv := redistest.Start(t)
	both, apiOnly, workerOnly := newRecorder(), newRecorder(), newRecorder()
	hook := func(r *recorder, group string) fx.Option {
		return fx.Provide(fx.Annotate(func() redis.Hook { return r }, fx.ResultTags(`group:"`+group+`"`)))
	}
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(configsAt(srv.Addr())),
		hook(both, fxmodule.GroupHooks), hook(apiOnly, fxmodule.GroupAPIHooks), hook(workerOnly, fxmodule.GroupWorkerHooks),
		fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()

	ctx := context.Background()
	if err := s.API.Set(ctx, "k-api", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Worker.Get(ctx, "k-api").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Worker.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "k-pipe")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    *recorder
		name string
		key  string
		want bool
	}{
		{both, "redis_hooks", "set k-api", true},
		{both, "redis_hooks", "get k-api", true},
		{both, "redis_hooks", "incr k-pipe", true},
		{apiOnly, "redis_api_hooks", "set k-api", true},
		{apiOnly, "redis_api_hooks", "get k-api", false},
		{workerOnly, "redis_worker_hooks", "get k-api", true},
		{workerOnly, "redis_worker_hooks", "set k-api", false},
	} {
		if got := c.r.saw(c.key); got != c.want {
			t.Errorf("hook in group %s saw %q: %v, want %v", c.name, c.key, got, c.want)
		}
	}
}

func TestNamedClientsAreDistinct(t *testing.T) {
	srv := redistest.Start(t)
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(configsAt(srv.Addr())), fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()

	if s.APIClient == s.WorkerClient {
		t.Fatal("redis_api_client and redis_worker_client are the same client")
	}
	if s.API != redis.UniversalClient(s.APIClient) || s.Worker != redis.UniversalClient(s.WorkerClient) {
		t.Error("redis_api / redis_worker are not the *profiles.Client provided under the _client names")
	}
	if s.APIMonitor == s.WorkerMon {
		t.Fatal("the two monitors are the same")
	}
	a, w := s.APIClient.Config(), s.WorkerClient.Config()
	if a.Name != profiles.NameAPI || a.PoolSize != profiles.API().PoolSize {
		t.Errorf("API client: %s pool %d", a.Name, a.PoolSize)
	}
	if w.Name != profiles.NameWorker || w.PoolSize != profiles.Worker().PoolSize {
		t.Errorf("Worker client: %s pool %d", w.Name, w.PoolSize)
	}
	if s.APIClient.Hooks.Limiter == s.WorkerClient.Hooks.Limiter {
		t.Error("the two clients share a limiter")
	}
	ctx := context.Background()
	if got := s.APIMonitor.Check(ctx).Name; got != "api" {
		t.Errorf("API monitor reports as %q", got)
	}
	if got := s.WorkerMon.Check(ctx).Name; got != "worker" {
		t.Errorf("Worker monitor reports as %q", got)
	}
}

func TestHealthHandlerServesBothMonitors(t *testing.T) {
	srv := redistest.Start(t)
	var s sides
	app := fxtest.New(t, fx.NopLogger, fx.Supply(configsAt(srv.Addr())), fxmodule.Module, populate(&s))
	app.RequireStart()
	defer app.RequireStop()
	ctx := context.Background()
	s.APIMonitor.Check(ctx)
	s.WorkerMon.Check(ctx)

	rec := httptest.NewRecorder()
	s.Health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var h struct {
		Status   health.Status
		Monitors map[string]struct{ Status health.Status }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("/health body %q: %v", rec.Body, err)
	}
	if rec.Code != http.StatusOK || h.Status != health.StatusHealthy ||
		h.Monitors["api"].Status != health.StatusHealthy || h.Monitors["worker"].Status != health.StatusHealthy {
		t.Fatalf("/health: %d %s", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	s.Health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pool-stats", nil))
	var ps map[string]struct {
		Pool struct {
			MaxConnections int `json:"max_connections"`
		}
		Hooks struct {
			Limiter *struct {
				MaxInFlight int `json:"max_in_flight"`
			}
			Breakers map[string]string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ps); err != nil {
		t.Fatalf("/pool-stats body %q: %v", rec.Body, err)
	}
	for name, want := range map[string][2]int{"api": {50, 40}, "worker": {200, 100}} {
		got := ps[name]
		if got.Pool.MaxConnections != want[0] || got.Hooks.Limiter == nil || got.Hooks.Limiter.MaxInFlight != want[1] {
			t.Errorf("/pool-stats %s: %+v, want max_connections %d and a limiter of %d", name, got, want[0], want[1])
		}
		if st := got.Hooks.Breakers[srv.Addr()]; st != "closed" {
			t.Errorf("/pool-stats %s: breaker for %s is %q, want closed", name, srv.Addr(), st)
		}
	}

	// The server goes away: three failed checks make the whole answer 503.
	srv.Kill()
	for range 3 {
		s.APIMonitor.Check(ctx)
	}
	rec = httptest.NewRecorder()
	s.Health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status":"unhealthy"`) {
		t.Errorf("/health after the server died: %d %s", rec.Code, rec.Body)
	}
}

func TestAPIModuleProvidesOnlyTheAPISide(t *testing.T) {
	srv := redistest.Start(t)
	var (
		h   http.Handler
		api redis.UniversalClient
	)
	app := fxtest.New(t, fx.NopLogger, fx.Supply(fxmodule.Configs{API: at(profiles.API(), srv.Addr())}),
		fxmodule.APIModule,
		fx.Invoke(fx.Annotate(func(hh http.Handler, c redis.UniversalClient) { h, api = hh, c },
			fx.ParamTags(`name:"redis_health"`, `name:"redis_api"`))))
	app.RequireStart()
	defer app.RequireStop()
	if err := api.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pool-stats", nil))
	var ps map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &ps); err != nil {
		t.Fatal(err)
	}
	if _, ok := ps["api"]; !ok || len(ps) != 1 {
		t.Errorf("APIModule /pool-stats has %d monitors (%s), want api only", len(ps), rec.Body)
	}

	// The Worker side is not in the graph at all.
	err := fx.New(fx.NopLogger, fx.Supply(fxmodule.Configs{API: at(profiles.API(), srv.Addr())}), fxmodule.APIModule,
		fx.Invoke(fx.Annotate(func(redis.UniversalClient) {}, fx.ParamTags(`name:"redis_worker"`)))).Err()
	if err == nil {
		t.Error("APIModule provided a redis_worker client")
	}
}

// TestWithoutFx: what the module wires works without fx: a client from
// profiles.NewClient, its monitor with MonitorOptions (filled in from the
// client), and health.NewHandler serving it.
func TestWithoutFx(t *testing.T) {
	srv := redistest.Start(t)
	cfgs := configsAt(srv.Addr())
	c, err := profiles.NewClient(cfgs.API)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := fxmodule.Ping(ctx, c, time.Second); err != nil {
		t.Fatal(err)
	}
	opt := fxmodule.MonitorOptions(c, fxmodule.Options{})
	if opt.Name != "api" || opt.Limiter != c.Hooks.Limiter || opt.Breaker != c.Hooks.Breaker || opt.Retry != c.Hooks.Retry {
		t.Errorf("MonitorOptions did not take the client's name and hooks: %+v", opt)
	}
	mon, err := health.NewMonitor(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	health.NewHandler(mon).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"api":{"name":"api","status":"healthy"`) {
		t.Errorf("/health: %d %s", rec.Code, rec.Body)
	}
}

// TestFailedStartClosesEveryClient: when the API client's start PING fails,
// fx stops the hooks that started and never starts the rest; the Worker
// client, built but not started, must be closed too (a go-redis client runs
// a goroutine from the moment it is made).
func TestFailedStartClosesEveryClient(t *testing.T) {
	srv := redistest.Start(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfgs := fxmodule.Configs{API: at(profiles.API(), unreachable(t)), Worker: at(profiles.Worker(), srv.Addr())}
	var s struct {
		fx.In
		API    redis.UniversalClient `name:"redis_api"`
		Worker redis.UniversalClient `name:"redis_worker"`
	}
	app := fx.New(fx.NopLogger, fx.Supply(cfgs), fx.Supply(fxmodule.Options{PingTimeout: 300 * time.Millisecond}),
		fxmodule.Module, fx.Populate(&s))
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err == nil {
		_ = app.Stop(ctx)
		t.Fatal("start succeeded with the API server unreachable")
	}
	if err := s.Worker.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Worker client after the failed start: %v, want redis.ErrClosed", err)
	}
}
