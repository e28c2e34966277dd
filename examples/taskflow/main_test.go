package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the HTTP server,
// the workers, the monitors, the clients and the embedded Redis all stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
