package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestJITThread(t *testing.T) {
	cases := []struct {
		comm string
		want bool
	}{
		{"C2 CompilerThre", true},
		{"C1 CompilerThre", true},
		{"C2 CompilerThread0", true},
		{"G1 Conc#0", false},
		{"VM Thread", false},
		{"node", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := jitThread(tc.comm); got != tc.want {
			t.Errorf("jitThread(%q) = %v, want %v", tc.comm, got, tc.want)
		}
	}
}

// TestJITCPU names one of this process's threads as the JVM names its C2
// compiler thread, burns CPU on it, and reads that CPU back; the process's
// other threads are not counted.
func TestJITCPU(t *testing.T) {
	pid := os.Getpid()
	if _, found, err := jitCPU(pid); err != nil || found {
		t.Fatalf("before: jitCPU = found %v, err %v; want no compiler threads", found, err)
	}
	const burn = 200 * time.Millisecond
	ready, done, exit, renamedBack := make(chan error), make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		// Locked to its thread while that bears the compiler's name, which
		// it gives back before it ends: the thread may outlive the
		// goroutine, and a next run in this process (-count) must start
		// without a compiler thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		comm := fmt.Sprintf("/proc/self/task/%d/comm", syscall.Gettid())
		name, err := os.ReadFile(comm)
		if err == nil {
			err = os.WriteFile(comm, []byte("C2 CompilerThread0"), 0)
		}
		ready <- err
		if err != nil {
			return
		}
		defer func() { renamedBack <- os.WriteFile(comm, bytes.TrimSuffix(name, []byte("\n")), 0) }()
		var start syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &start)
		for {
			var now syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &now)
			if time.Duration(now.Utime.Nano()+now.Stime.Nano()-start.Utime.Nano()-start.Stime.Nano()) >= burn {
				break
			}
		}
		close(done)
		<-exit
	}()
	if err := <-ready; err != nil {
		t.Fatalf("naming the thread: %v", err)
	}
	<-done
	got, found, err := jitCPU(pid)
	close(exit)
	if err := <-renamedBack; err != nil {
		t.Errorf("naming the thread back: %v", err)
	}
	if _, found, _ := jitCPU(pid); found {
		t.Error("a compiler thread is still found once the thread is named back")
	}
	if err != nil || !found {
		t.Fatalf("jitCPU = found %v, err %v; want the renamed thread found", found, err)
	}
	// The kernel counts in ticks of 10 ms; the thread also ran a little
	// before it was named.
	if got < burn-2*clockTick || got > burn+time.Second {
		t.Errorf("jitCPU = %v, want about %v", got, burn)
	}
}
