package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// readmeBlock is a shell block of README.md.
type readmeBlock struct {
	// line is the line of the opening fence.
	line int
	// skip is why the block cannot run, from <!-- readme-test: skip: why -->.
	skip     string
	commands []readmeCommand
}

// readmeCommand is one command of a block: its lines joined where they end
// in a backslash.
type readmeCommand struct {
	line int
	text string
	// exit is the status the comment above it announces, "(exit status N)".
	exit int
}

var (
	readmeSkip = regexp.MustCompile(`^<!--\s*readme-test:\s*skip:\s*(\S.*?)\s*-->$`)
	readmeExit = regexp.MustCompile(`\(exit status (\d+)\)`)
	// readmeLongRunning are commands that run until stopped: recognised,
	// and not run.
	readmeLongRunning = regexp.MustCompile(`^(?:make\s+(run|test|bench|load|tls-scan)|(?:bin/)?gatehouse\s+(?:serve|dev))(?:\s|$)`)
	// The placeholders a command may use, each filled from the output of
	// the last command before it that printed one.
	readmePlaceholders = map[string]*regexp.Regexp{
		"EXCHANGE-ID": regexp.MustCompile(`(?m)^exchange ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
		"REQUEST-ID":  regexp.MustCompile(`(?m)^request ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
		// The digest of the agreement version shown, which approve and
		// activate name.
		"DIGEST": regexp.MustCompile(`\bsha256 ([0-9a-f]{64})\b`),
	}
)

// readmeBlocks returns the shell blocks (```sh, ```bash, ```shell) of a
// Markdown document, in order.
func readmeBlocks(md string) ([]readmeBlock, error) {
	var (
		blocks  []readmeBlock
		cur     *readmeBlock
		fence   string
		prev    string // the last non-blank line outside a block
		pending *readmeCommand
		exit    = -1 // the status announced by the comment lines above
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if info, ok := strings.CutPrefix(trimmed, "```"); ok {
				fence = "```"
				lang, _, _ := strings.Cut(strings.TrimSpace(info), " ")
				switch lang {
				case "sh", "bash", "shell":
					cur = &readmeBlock{line: n}
					if m := readmeSkip.FindStringSubmatch(prev); m != nil {
						cur.skip = m[1]
					}
					exit = -1
				default:
					// Another language, or output: skip to its closing fence.
					for n++; sc.Scan(); n++ {
						if strings.TrimSpace(sc.Text()) == fence {
							break
						}
					}
				}
				prev = ""
				continue
			}
			if trimmed != "" {
				prev = trimmed
			}
			continue
		}
		if pending != nil {
			pending.text += "\n" + line
			if !strings.HasSuffix(line, `\`) {
				cur.commands = append(cur.commands, *pending)
				pending = nil
			}
			continue
		}
		switch {
		case trimmed == fence:
			blocks = append(blocks, *cur)
			cur = nil
		case trimmed == "":
			exit = -1
		case strings.HasPrefix(trimmed, "#"):
			if m := readmeExit.FindStringSubmatch(trimmed); m != nil {
				exit, _ = strconv.Atoi(m[1])
			}
		default:
			c := readmeCommand{line: n, text: line, exit: max(exit, 0)}
			exit = -1
			if strings.HasSuffix(line, `\`) {
				pending = &c
				continue
			}
			cur.commands = append(cur.commands, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("the block opened on line %d is never closed", cur.line)
	}
	return blocks, nil
}

func TestReadmeBlocks(t *testing.T) {
	tests := []struct {
		name string
		md   string
		want []readmeBlock
		err  bool
	}{
		{name: "ok/commands-comments-and-continuations", md: "text\n```sh\n# a comment\necho one\n\necho two \\\n  three\n```\n",
			want: []readmeBlock{{line: 2, commands: []readmeCommand{{line: 4, text: "echo one"}, {line: 6, text: "echo two \\\n  three"}}}}},
		{name: "ok/exit-status-from-the-comment-above", md: "```bash\n# refused (exit status 3)\nfalse\ntrue\n```\n",
			want: []readmeBlock{{line: 1, commands: []readmeCommand{{line: 3, text: "false", exit: 3}, {line: 4, text: "true"}}}}},
		{name: "ok/a-blank-line-ends-the-announcement", md: "```sh\n# (exit status 2)\n\ntrue\n```\n",
			want: []readmeBlock{{line: 1, commands: []readmeCommand{{line: 4, text: "true"}}}}},
		{name: "ok/other-languages-and-output-are-not-run", md: "```\n$ not run\n```\n```yaml\nid: x\n```\n```sh\nls\n```\n",
			want: []readmeBlock{{line: 7, commands: []readmeCommand{{line: 8, text: "ls"}}}}},
		{name: "ok/skip-with-a-reason", md: "<!-- readme-test: skip: needs a smart card -->\n```sh\npkcs11-tool --list\n```\n",
			want: []readmeBlock{{line: 2, skip: "needs a smart card", commands: []readmeCommand{{line: 3, text: "pkcs11-tool --list"}}}}},
		{name: "deny/unclosed-block", md: "```sh\nls\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readmeBlocks(tc.md)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestReadme runs every shell block of README.md, in order, as a newcomer
// pastes them: from a folder laid out as the repository after make run
// (bin/gatehouse, the README, examples/, and var/ holding a development
// gateway's PKI, keys, configuration and database), against that gateway.
// Its addresses replace 127.0.0.1:8443 and :8444, and each placeholder the
// id the last command before it printed. A command must exit 0 unless the
// comment above it announces another status; commands that run until stopped
// are recognised and not run.
func TestReadme(t *testing.T) {
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks, err := readmeBlocks(string(md))
	require.NoError(t, err)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)

	work := t.TempDir()
	buildGatehouse(t, filepath.Join(work, "bin"))
	require.NoError(t, os.WriteFile(filepath.Join(work, "README.md"), md, 0o644))
	require.NoError(t, os.CopyFS(filepath.Join(work, "examples"), os.DirFS(filepath.Join(root, "examples"))))
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Dir: filepath.Join(work, "var")})

	// What the shell starts with: nothing of this process's GATEHOUSE_*.
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": work, "LC_ALL": "C.UTF-8", "TZ": "UTC"}
	envFile := filepath.Join(t.TempDir(), "env")
	filled := map[string]string{}
	ran, recognised := 0, 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README.md:%d: block not run: %s", b.line, b.skip)
			continue
		}
		for _, c := range b.commands {
			text := strings.NewReplacer("https://127.0.0.1:8443", gw.URL, "https://127.0.0.1:8444", gw.AdminURL).Replace(c.text)
			if m := readmeLongRunning.FindStringSubmatch(strings.TrimSpace(text)); m != nil {
				if m[1] != "" {
					require.Regexp(t, `(?m)^`+m[1]+`:`, string(makefile), "README.md:%d: make %s is not a target of the Makefile", c.line, m[1])
				}
				t.Logf("README.md:%d: runs until stopped, not run: %s", c.line, strings.TrimSpace(text))
				recognised++
				continue
			}
			for name := range readmePlaceholders {
				if !strings.Contains(text, name) {
					continue
				}
				v, ok := filled[name]
				require.True(t, ok, "README.md:%d: %s is used before any command printed one", c.line, name)
				text = strings.ReplaceAll(text, name, v)
			}
			stdout, stderr, code := runReadmeCommand(t, work, env, envFile, text)
			t.Logf("README.md:%d: $ %s\n%s%s", c.line, text, stdout, stderr)
			require.Equal(t, c.exit, code, "README.md:%d: exit status of\n%s\nstdout:\n%s\nstderr:\n%s", c.line, text, stdout, stderr)
			if c.exit != 0 {
				require.NotEmpty(t, strings.TrimSpace(stderr+stdout), "README.md:%d: a failing command says why", c.line)
			}
			require.NotContains(t, stderr, "panic:", "README.md:%d", c.line)
			for name, re := range readmePlaceholders {
				if m := re.FindAllStringSubmatch(stdout, -1); m != nil {
					filled[name] = m[len(m)-1][1]
				}
			}
			ran++
		}
	}
	require.Greater(t, ran, 40, "the README's commands ran")
	require.Positive(t, recognised, "the long-running commands were recognised")
	for name := range readmePlaceholders {
		require.Contains(t, filled, name, "%s was filled from a command's output", name)
	}

	// What the README did is on the record, and the record verifies.
	types := auditTypes(t, gw)
	require.Positive(t, types[audit.TypeExchangeSealed])
	require.Positive(t, types[audit.TypeExchangeFetched])
	require.Positive(t, types["request.decided"])
	var files []string
	require.NoError(t, fs.WalkDir(os.DirFS(work), "var", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".csv.jws") {
			files = append(files, p)
		}
		return err
	}))
	require.NotEmpty(t, files, "the exports were signed")
}

// runReadmeCommand runs text with bash in dir, in the environment env, and
// then records the environment the command leaves (its exports) in env.
func runReadmeCommand(t *testing.T, dir string, env map[string]string, envFile, text string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := "set -o pipefail\n" + text + "\nstatus=$?\nenv -0 > " + strconv.Quote(envFile) + "\nexit $status\n"
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s: did not finish", text)
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "%s: %v", text, err)
		code = ee.ExitCode()
	}
	b, err := os.ReadFile(envFile)
	require.NoError(t, err)
	for k := range env {
		delete(env, k)
	}
	for kv := range strings.SplitSeq(strings.TrimSuffix(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "", "_", "PWD", "OLDPWD", "SHLVL", "status":
			continue
		}
		env[k] = v
	}
	return out.String(), errOut.String(), code
}
