package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux the benchmarks run on).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time (user + system) process pid has used so far, zero
// if it cannot be read.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// cpuMeter says where the core-seconds of one transfer went: the gateway,
// MinIO and the benchmark's own process (the client).
type cpuMeter struct {
	pids  [3]int
	start [3]time.Duration
}

func (e *env) cpuMeter() *cpuMeter {
	m := &cpuMeter{pids: [3]int{e.gateway.Process.Pid, e.minio.Pid(), os.Getpid()}}
	for i, p := range m.pids {
		m.start[i] = cpuTime(p)
	}
	return m
}

// String is the CPU time each process used since the meter started, in
// core-seconds.
func (m *cpuMeter) String() string {
	var used [3]float64
	for i, p := range m.pids {
		used[i] = (cpuTime(p) - m.start[i]).Seconds()
	}
	return fmt.Sprintf("CPU gateway %.2fs, MinIO %.2fs, client %.2fs", used[0], used[1], used[2])
}

// opCPU is the CPU time each process used per operation, in milliseconds.
type opCPU [3]float64

// per is the CPU time each process used since the meter started, divided
// by n operations.
func (m *cpuMeter) per(n int64) opCPU {
	var c opCPU
	if n <= 0 {
		return c
	}
	for i, p := range m.pids {
		c[i] = float64((cpuTime(p) - m.start[i]).Microseconds()) / 1000 / float64(n)
	}
	return c
}

// total is the CPU time of all three processes per operation.
func (c opCPU) total() float64 { return c[0] + c[1] + c[2] }

func (c opCPU) String() string {
	return fmt.Sprintf("gateway %.2f ms, MinIO %.2f ms, client %.2f ms", c[0], c[1], c[2])
}
