package batch_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisguard/redisguard/batch"
)

// The examples run on an in-process miniredis so their output can be
// checked; an application points its client at its Redis server.
func exampleServer() *miniredis.Miniredis {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	return mr
}

// Append many values to a list, then send again only what certainly did
// not arrive, and decide about what may have.
func ExampleRPush() {
	mr := exampleServer()
	defer mr.Close()
	ctx := context.Background()
	// go-redis's own retry would send a failed chunk again by itself;
	// redisguard's profiles turn it off in favour of the Retry hook.
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()

	values := make([]string, 10_000)
	for i := range values {
		values[i] = fmt.Sprintf("job-%d", i)
	}
	res, err := batch.RPush(ctx, rdb, "jobs", values, batch.Options{})
	if err != nil {
		log.Printf("%d written, %d not written, %d unknown: %v",
			len(res.Written), len(res.NotWritten), len(res.Unknown), err)
		// Safe to send again: these never reached the list.
		retry := batch.Pick(values, res.NotWritten)
		if _, err := batch.RPush(ctx, rdb, "jobs", retry, batch.Options{}); err != nil {
			log.Print(err)
		}
		// res.Unknown may or may not be in the list: look before sending.
	}
	fmt.Println(len(res.Written), "written;", rdb.LLen(ctx, "jobs").Val(), "in the list")
	// Output: 10000 written; 10000 in the list
}

// Run queues any commands per item; here a hash and an expiry per user,
// chunks of 100 users, four chunks in flight at once.
func ExampleRun() {
	mr := exampleServer()
	defer mr.Close()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()

	type user struct{ ID, Name string }
	users := []user{{"1", "ada"}, {"2", "grace"}, {"3", "edsger"}}
	res, err := batch.Run(ctx, rdb, users, func(p redis.Pipeliner, u user) error {
		p.HSet(ctx, "user:"+u.ID, "name", u.Name)
		p.Expire(ctx, "user:"+u.ID, time.Hour)
		return nil
	}, batch.Options{ChunkSize: 100, Parallel: 4})
	if err != nil {
		for _, e := range res.Errors {
			log.Printf("user %s rejected: %v", users[e.Index].ID, e.Err)
		}
		log.Print(err)
	}
	fmt.Println(len(res.Written), "written;", rdb.HGet(ctx, "user:2", "name").Val())
	// Output: 3 written; grace
}

// Publish keeps the messages in order for the channel's subscribers.
func ExamplePublish() {
	mr := exampleServer()
	defer mr.Close()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()

	sub := rdb.Subscribe(ctx, "progress") // a subscriber, listening first
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		log.Fatal(err)
	}

	events := []string{"started", "50%", "done"}
	res, err := batch.Publish(ctx, rdb, "progress", events, batch.Options{})
	if err != nil {
		log.Print(err)
	}
	fmt.Println(len(res.Written), "published")
	for range len(res.Written) {
		msg := <-sub.Channel()
		fmt.Println(msg.Payload)
	}
	// Output:
	// 3 published
	// started
	// 50%
	// done
}

func ExamplePick() {
	values := []string{"a", "b", "c", "d", "e"}
	res := batch.Result{Written: []int{0, 1}, NotWritten: []int{3, 4}, Unknown: []int{2}}
	fmt.Println(batch.Pick(values, res.NotWritten), res.Complete(), res.Len())
	// Output: [d e] false 5
}
