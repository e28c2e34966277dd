package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/hooks"
)

// Attach adds the hooks in the order of the chain, whatever order they are
// passed in. On a ClusterClient or a Ring the Limiter gets a budget per
// node. It needs a Redis server at localhost:6379 and its figures depend on
// that server, so it has no Output section.
func ExampleAttach() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		PoolSize:              50,
		ContextTimeoutEnabled: true, // Timeouts works through the context
	})
	defer rdb.Close()

	lim, err := hooks.NewLimiter(hooks.LimiterOptions{
		MaxInFlight: 40,              // below PoolSize
		MaxBlocking: 10,              // at least 30 permits stay for short commands
		MaxWait:     2 * time.Second, // then ErrLimited
	})
	if err != nil {
		log.Fatal(err)
	}
	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{Read: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	if err := hooks.Attach(rdb, lim, tmo); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	// However many consumers wait in BLPOP on this client, they hold at most
	// 10 permits: 30 stay for commands like the SET below.
	if _, err := rdb.BLPop(ctx, 5*time.Second, "jobs").Result(); err != nil && err != redis.Nil {
		log.Print(err)
	}
	if err := rdb.Set(ctx, "greeting", "hello", 0).Err(); errors.Is(err, hooks.ErrLimited) {
		log.Print("redis is saturated; the SET was not sent: ", err)
	}
	fmt.Printf("%+v\n", lim.NodeStats()["localhost:6379"])
}

// NewLimiter checks its options and fills in the defaults: MaxBlocking is
// a quarter of MaxInFlight unless set.
func ExampleNewLimiter() {
	lim, err := hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 40})
	if err != nil {
		log.Fatal(err)
	}
	st := lim.Stats()
	fmt.Println("in flight:", st.MaxInFlight, "blocking:", st.MaxBlocking)

	_, err = hooks.NewLimiter(hooks.LimiterOptions{MaxInFlight: 8, MaxBlocking: 8})
	fmt.Println(err)
	// Output:
	// in flight: 40 blocking: 10
	// hooks: LimiterOptions.MaxBlocking is 8; it must be below MaxInFlight (8)
}

// NewCommandTable tells the hooks about the commands of a module and about
// scripts that are safe to send again. Give the same table to every hook.
// It needs a Redis server with the JSON module, so it has no Output section.
func ExampleNewCommandTable() {
	const setValue = "return redis.call('SET', KEYS[1], ARGV[1])"
	table := hooks.NewCommandTable([]hooks.Command{
		{Name: "JSON.SET", Write: true, Idempotent: true},
		{Name: "JSON.GET", ReadOnly: true, Idempotent: true},
	}, setValue)
	retry, err := hooks.NewRetry(hooks.RetryOptions{Commands: table})
	if err != nil {
		log.Fatal(err)
	}
	tmo, err := hooks.NewTimeouts(hooks.TimeoutOptions{Commands: table})
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", MaxRetries: -1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	if err := hooks.Attach(rdb, retry, tmo); err != nil {
		log.Fatal(err)
	}
	// A read timeout no longer ends this call: Retry may send it again.
	if err := rdb.Do(context.Background(), "JSON.SET", "doc", "$", `{"a":1}`).Err(); err != nil {
		log.Print(err)
	}
}
