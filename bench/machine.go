package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ). It
// is 100 on every Linux architecture Go supports; sysconf(_SC_CLK_TCK) would
// need cgo.
const clockTick = 10 * time.Millisecond

// Machine describes where the figures were measured.
type Machine struct {
	Cores       int    `json:"cores"`
	CPUModel    string `json:"cpuModel"`
	MemTotalMiB int    `json:"memTotalMiB"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"goVersion"`
	OSArch      string `json:"osArch"`
	// LoadAvg is /proc/loadavg when the run started: other work on the
	// machine competes for the same cores.
	LoadAvg string `json:"loadAvgAtStart"`
	// BusyBeforeRun is the share of all cores busy during a second before
	// the run: other work on the machine.
	BusyBeforeRun float64 `json:"busyBeforeRun"`
}

func describeMachine() Machine {
	m := Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:  "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if kb, err := statusField("/proc/meminfo", "MemTotal"); err == nil {
		m.MemTotalMiB = int(kb / 1024)
	}
	return m
}

// cpuTime returns the user+system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	d, err := statCPU(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return d, nil
}

// statCPU reads utime+stime from a /proc stat line (a process's or a
// thread's).
func statCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected format")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime")
	}
	return time.Duration(ut+st) * clockTick, nil
}

// memory is a process's resident set now and its peak (VmHWM), in bytes.
type memory struct {
	RSS, HWM int64
	Threads  int
}

func processMemory(pid int) (memory, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	rss, err := statusField(path, "VmRSS")
	if err != nil {
		return memory{}, err
	}
	hwm, err := statusField(path, "VmHWM")
	if err != nil {
		return memory{}, err
	}
	threads, _ := statusField(path, "Threads")
	return memory{RSS: rss * 1024, HWM: hwm * 1024, Threads: int(threads)}, nil
}

// statusField reads "Name:   123 kB" (or a bare number) from a
// /proc status-like file.
func statusField(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

// systemCPU is the machine's cumulative busy and total CPU time (all cores),
// from the first line of /proc/stat.
type systemCPU struct{ Busy, Total time.Duration }

func readSystemCPU() (systemCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return systemCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return systemCPU{}, fmt.Errorf("/proc/stat: unexpected first line")
	}
	var total, idle int64
	for i, s := range f[1:] {
		if i >= 8 { // guest times are already counted in user
			break
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return systemCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return systemCPU{Busy: time.Duration(total-idle) * clockTick, Total: time.Duration(total) * clockTick}, nil
}

// busyFraction is the share of all cores busy between a and b.
func busyFraction(a, b systemCPU) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}

// listenerPID finds the process listening on a loopback TCP port (an
// emulator), through /proc/net/tcp{,6} and the processes' open sockets.
func listenerPID(port int) (int, error) {
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// local_address rem_address st ... inode (field 10)
			if len(fs) > 9 && strings.HasSuffix(fs[1], want) && fs[3] == "0A" {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process found holding the socket listening on port %d", port)
}

// jitThread reports whether a thread's name (/proc/<pid>/task/<tid>/comm,
// cut to 15 bytes) is one of the JVM's JIT compiler threads, "C1
// CompilerThread<n>" and "C2 CompilerThread<n>".
func jitThread(comm string) bool {
	return strings.HasPrefix(comm, "C1 CompilerThre") || strings.HasPrefix(comm, "C2 CompilerThre")
}

// jitCPU returns the CPU time a JVM's JIT compiler threads have used so far,
// and whether the process has any (a process that is not a JVM has none).
// A compiler thread the JVM retires takes its time with it, so a difference
// of two readings can undercount, never overcount by more than one thread's
// last tick.
func jitCPU(pid int) (time.Duration, bool, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false, err
	}
	var total time.Duration
	found := false
	for _, t := range tasks {
		comm, err := os.ReadFile(dir + "/" + t.Name() + "/comm")
		if err != nil || !jitThread(strings.TrimSpace(string(comm))) {
			continue
		}
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread ended between the two reads
		}
		d, err := statCPU(b)
		if err != nil {
			return 0, false, fmt.Errorf("%s/%s/stat: %w", dir, t.Name(), err)
		}
		total += d
		found = true
	}
	return total, found, nil
}
