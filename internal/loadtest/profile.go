package main

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts a CPU profile written to cpu and mutex contention
// sampling written to mutex (either may be empty), and returns the function
// that stops them and writes the files.
func startProfiles(cpu, mutex string) (stop func() error, err error) {
	var cpuFile *os.File
	if cpu != "" {
		if cpuFile, err = os.Create(cpu); err != nil {
			return nil, err
		}
		if err = pprof.StartCPUProfile(cpuFile); err != nil {
			_ = cpuFile.Close()
			return nil, err
		}
	}
	if mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	return func() error {
		var errs []error
		if cpuFile != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpuFile.Close())
		}
		if mutex != "" {
			f, err := os.Create(mutex)
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, pprof.Lookup("mutex").WriteTo(f, 0), f.Close())
		}
		return errors.Join(errs...)
	}, nil
}

// phase runs fn with the profiler label phase=name, which the goroutines fn
// starts inherit: in a CPU profile of the run (-cpuprofile), go tool pprof
// -tagfocus phase=name shows that phase alone.
func phase(ctx context.Context, name string, fn func(ctx context.Context) *sample) *sample {
	var s *sample
	pprof.Do(ctx, pprof.Labels("phase", name), func(ctx context.Context) { s = fn(ctx) })
	return s
}
