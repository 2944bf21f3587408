package jobs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// scriptHost runs files with some extensions, as Kudu's script hosts do.
type scriptHost struct {
	exts []string // "" is an executable without an extension (Unix)
	// command is the command line that runs file (a name in the job's
	// folder).
	command func(file string) []string
}

// interpreter is the first of names found in PATH, else the first: the
// run then fails saying it was not found.
func interpreter(names ...string) string {
	for _, n := range names {
		if _, err := exec.LookPath(n); err == nil {
			return n
		}
	}
	return names[0]
}

// entryPoint finds the file a job folder runs, by WebJobs' rule: a file
// named run.<ext> of a supported type first (script hosts in their
// order), else the first supported file (by name) of the first script
// host that has one. It returns the command that runs it, or an error
// saying why there is none.
func entryPoint(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type file struct {
		name string
		exec bool
	}
	var files []file
	var notExec []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == SettingsFile {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		f := file{name: e.Name(), exec: info.Mode()&0o111 != 0}
		if filepath.Ext(f.name) == "" && !f.exec && !isWindows {
			notExec = append(notExec, f.name)
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return strings.ToLower(files[i].name) < strings.ToLower(files[j].name) })
	var second []string
	for _, h := range scriptHosts() {
		for _, ext := range h.exts {
			var first string
			for _, f := range files {
				if !strings.EqualFold(filepath.Ext(f.name), ext) || (ext == "" && !f.exec) {
					continue
				}
				if strings.EqualFold(f.name, "run"+ext) {
					return h.command(f.name), nil
				}
				if first == "" {
					first = f.name
				}
			}
			if first != "" && second == nil {
				second = h.command(first)
			}
		}
	}
	if second != nil {
		return second, nil
	}
	msg := "no runnable file: want run.* or a file of a supported type (" + strings.Join(supportedTypes(), ", ") + ")"
	if len(notExec) > 0 {
		msg += fmt.Sprintf("; %s has no extension and is not executable (chmod +x %s)", strings.Join(notExec, ", "), notExec[0])
	}
	return nil, fmt.Errorf("%s", msg)
}

func supportedTypes() []string {
	var out []string
	for _, h := range scriptHosts() {
		for _, e := range h.exts {
			if e == "" {
				out = append(out, "an executable")
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

func dotSlash(f string) string { return "." + string(filepath.Separator) + f }

// scriptHosts are the supported file types in Kudu's order: Windows'
// .cmd, .bat and .exe first (on Windows; an executable file on other
// systems), then .ps1, .sh, .py, .php, .js, .jar.
func scriptHosts() []scriptHost {
	first := scriptHost{exts: []string{""}, command: func(f string) []string { return []string{dotSlash(f)} }}
	ps := []string{"pwsh", "-NoProfile", "-NonInteractive", "-File"}
	if isWindows {
		first = scriptHost{exts: []string{".cmd", ".bat", ".exe"}, command: func(f string) []string {
			if strings.EqualFold(filepath.Ext(f), ".exe") {
				return []string{dotSlash(f)}
			}
			return []string{"cmd", "/c", f}
		}}
		ps = []string{interpreter("pwsh", "powershell"), "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File"}
	}
	return []scriptHost{
		first,
		{exts: []string{".ps1"}, command: func(f string) []string { return append(append([]string(nil), ps...), f) }},
		{exts: []string{".sh"}, command: func(f string) []string { return []string{interpreter("bash", "sh"), f} }},
		{exts: []string{".py"}, command: func(f string) []string { return []string{interpreter("python3", "python"), f} }},
		{exts: []string{".php"}, command: func(f string) []string { return []string{"php", f} }},
		{exts: []string{".js"}, command: func(f string) []string { return []string{"node", f} }},
		{exts: []string{".jar"}, command: func(f string) []string { return []string{"java", "-jar", f} }},
	}
}
