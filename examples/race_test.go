//go:build race

package examples_test

// raceEnabled says the test binary runs with the race detector, so the
// examples are built with it too (and share its build cache).
const raceEnabled = true
