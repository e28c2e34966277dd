//go:build !race

package examples_test

// raceEnabled says the test binary runs with the race detector.
const raceEnabled = false
