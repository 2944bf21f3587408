package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// workDir returns the working directory of a program's run, and a func to
// call when the run has ended. With CopyDir it is a copy of the job's
// folder made for its current files (DataDir/jobs/bin/<name>/<sum>),
// reused while they do not change; older copies are removed once no run
// uses them.
func (r *Runner) workDir(j Job) (string, func(), error) {
	if !j.CopyDir || j.Dir == "" {
		return j.Dir, func() {}, nil
	}
	sum := j.sum
	if sum == "" {
		var err error
		if sum, err = fingerprint(j.Dir); err != nil {
			return "", nil, fmt.Errorf("job folder %s: %w", j.Dir, err)
		}
	}
	base := filepath.Join(r.o.DataDir, "jobs", "bin", j.Name)
	dst := filepath.Join(base, sum)
	r.copyMu.Lock()
	defer r.copyMu.Unlock()
	if _, err := os.Stat(dst); err != nil {
		tmp := dst + ".tmp"
		_ = os.RemoveAll(tmp)
		if err := copyTree(j.Dir, tmp); err != nil {
			_ = os.RemoveAll(tmp)
			return "", nil, fmt.Errorf("copying the job folder %s: %w", j.Dir, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", nil, fmt.Errorf("copying the job folder %s: %w", j.Dir, err)
		}
	}
	if r.inUse == nil {
		r.inUse = map[string]int{}
	}
	r.inUse[dst]++
	r.removeOldCopiesLocked(base, dst)
	return dst, func() {
		r.copyMu.Lock()
		defer r.copyMu.Unlock()
		r.inUse[dst]--
		if r.inUse[dst] == 0 {
			delete(r.inUse, dst)
		}
	}, nil
}

// removeOldCopiesLocked removes the copies in base other than keep that no
// run uses.
func (r *Runner) removeOldCopiesLocked(base, keep string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(base, e.Name())
		if p != keep && r.inUse[p] == 0 {
			_ = os.RemoveAll(p)
		}
	}
}

// maxFolderFiles bounds a job folder's walk.
const maxFolderFiles = 10000

// fingerprint identifies the content of a folder by its files' paths,
// sizes, modes and modification times, as Kudu notices changed job
// binaries.
func fingerprint(dir string) (string, error) {
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxFolderFiles {
			return fmt.Errorf("more than %d files", maxFolderFiles)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d\n", filepath.ToSlash(rel), info.Size(), info.Mode(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// copyTree copies the regular files, folders and symbolic links of src to
// dst, keeping file modes.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil // sockets, devices: not part of a job
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
