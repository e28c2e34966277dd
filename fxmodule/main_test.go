package fxmodule_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test of the package leaves a goroutine behind:
// every app stopped, every client closed, every monitor stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
