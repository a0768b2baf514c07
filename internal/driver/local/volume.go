package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Volume layouts (Config.Volumes).
const (
	// VolumesLoop gives every new instance a filesystem image of its volume
	// size, Root/<id>/volume.img, loop-mounted at Root/<id>/vol with the data
	// in vol/data: the engine gets ENOSPC when the volume is full.
	VolumesLoop = "loop"
	// VolumesDir keeps the data in a plain directory Root/<id>/data: the
	// volume size is not enforced. It needs no root and no loop devices.
	VolumesDir = "dir"
)

const (
	imageName = "volume.img"
	mountName = "vol"
	gib       = int64(1) << 30
)

// mountMu serialises mount and umount commands of all drivers of this
// process: concurrent `mount -o loop` calls race for the same free loop
// device, and a few tens of milliseconds each are cheap to queue.
var mountMu sync.Mutex

// resolveVolumes decides the volume layout of new instances.
func resolveVolumes(want string, asRoot bool) (string, error) {
	const op = "driver.local.new"
	why := volumeSupport(asRoot)
	switch want {
	case "":
		if why != nil {
			return VolumesDir, why
		}
		return VolumesLoop, nil
	case VolumesLoop:
		if why != nil {
			return "", fault.Wrap(fault.Invalid, op, "loop volumes are not available here", why)
		}
		return VolumesLoop, nil
	case VolumesDir:
		return VolumesDir, nil
	}
	return "", fault.Errorf(fault.Invalid, op, "unknown volume layout %q (want %q or %q)", want, VolumesLoop, VolumesDir)
}

// volumeSupport says why loop volumes cannot be used here, or nil.
func volumeSupport(asRoot bool) error {
	if !asRoot {
		return errors.New("hoard does not run as root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no loop device control: %w", err)
	}
	for _, name := range []string{"mkfs.ext4", "e2fsck", "resize2fs", "mount", "umount"} {
		if _, err := tool(name); err != nil {
			return err
		}
	}
	return nil
}

// tool finds a system program, also in the sbin directories that a
// non-login PATH may lack.
func tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %s not found", name)
}

// run runs a system program and returns its error with its output.
func run(ctx context.Context, name string, args ...string) error {
	p, err := tool(name)
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, p, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// usesVolume reports whether instance id keeps its data on a volume image.
// Instances made before volumes existed (a data/ directory and no image)
// keep their plain directory whatever Config.Volumes says; a new instance
// (neither yet) gets the configured layout.
func (d *Driver) usesVolume(id string) bool {
	dir := d.dir(id)
	if exists(filepath.Join(dir, imageName)) {
		return true
	}
	if exists(filepath.Join(dir, "data")) {
		return false
	}
	return d.volumes == VolumesLoop
}

// dataDir is the engine's data directory of instance id.
func (d *Driver) dataDir(id string) string {
	if d.usesVolume(id) {
		return filepath.Join(d.dir(id), mountName, "data")
	}
	return filepath.Join(d.dir(id), "data")
}

// filesDir is instance id's directory for the files its engine reads and
// writes on a tenant's behalf: beside the data, on the volume if it has one.
func (d *Driver) filesDir(id string) string {
	if d.usesVolume(id) {
		return filepath.Join(d.dir(id), mountName, "files")
	}
	return filepath.Join(d.dir(id), "files")
}

// mountPath is where instance id's volume is mounted, as the kernel lists
// it in mountinfo (symbolic links in Root resolved).
func (d *Driver) mountPath(id string) string {
	return filepath.Join(d.realRoot, id, mountName)
}

// volumeBytes is the size of a volume of gb GiB (at least 1 GiB).
func volumeBytes(gb int) int64 { return int64(max(gb, 1)) * gib }

// ensureVolume makes sure instance s's volume exists (creating the image
// if create) and is mounted, with the mount point's root owned by hoard and
// traversable by the engine user. It does nothing for plain directories.
func (d *Driver) ensureVolume(ctx context.Context, s driver.Spec, create bool) error {
	id := s.InstanceID
	if !d.usesVolume(id) {
		return nil
	}
	dir := d.dir(id)
	img := filepath.Join(dir, imageName)
	mnt := filepath.Join(dir, mountName)
	a, err := d.account(ctx, id, true)
	if err != nil {
		return err
	}
	if !exists(img) {
		if !create {
			return fault.Errorf(fault.Conflict, "driver.local.volume", "instance %s has no volume image", id)
		}
		if err := d.makeImage(ctx, img, volumeBytes(s.VolumeGB)); err != nil {
			return fmt.Errorf("while creating the volume of instance %s: %w", id, err)
		}
	}
	if err := mkdirOwned(mnt, 0o750, a, false); err != nil {
		return fmt.Errorf("while creating the mount point of instance %s: %w", id, err)
	}
	mounted, err := isMounted(d.mountPath(id))
	if err != nil {
		return err
	}
	if !mounted {
		mountMu.Lock()
		start := time.Now()
		err := run(ctx, "mount", "-t", "ext4", "-o", "loop,noatime,nodev,nosuid", img, mnt)
		mountMu.Unlock()
		if err != nil {
			return fmt.Errorf("while mounting the volume of instance %s: %w", id, err)
		}
		d.log.Info("mounted volume", "instance_id", id, "took", time.Since(start).Round(time.Millisecond))
	}
	// The filesystem's root: hoard's, traversable by the engine user.
	if err := mkdirOwned(mnt, 0o750, a, false); err != nil {
		return fmt.Errorf("while setting up the volume of instance %s: %w", id, err)
	}
	return nil
}

// makeImage creates a sparse ext4 image of size bytes at img. It is built
// under another name and renamed, so an image that exists is complete.
func (d *Driver) makeImage(ctx context.Context, img string, size int64) error {
	tmp := img + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// -m 0: no blocks reserved for root (the engine is not root); lazy init:
	// nothing is zeroed now, so the image stays sparse and mkfs takes ms.
	if err := run(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, img); err != nil {
		return err
	}
	return syncDir(filepath.Dir(img))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// unmount unmounts instance id's volume if it is mounted (also several
// stacked mounts); a lazy unmount is the last resort for a busy one. The
// loop device goes with the last unmount (mount sets it to autoclear).
func (d *Driver) unmount(id string) error {
	mnt := filepath.Join(d.dir(id), mountName)
	for i := 0; ; i++ {
		mounted, err := isMounted(d.mountPath(id))
		if err != nil || !mounted {
			return err
		}
		if i == 4 {
			return fmt.Errorf("volume of instance %s is still mounted at %s", id, mnt)
		}
		mountMu.Lock()
		err = run(context.Background(), "umount", mnt)
		if err != nil {
			d.log.Warn("unmount failed; detaching the volume lazily", "instance_id", id, "err", err)
			err = run(context.Background(), "umount", "-l", mnt)
		}
		mountMu.Unlock()
		if err != nil {
			return fmt.Errorf("while unmounting the volume of instance %s: %w", id, err)
		}
		d.log.Info("unmounted volume", "instance_id", id)
	}
}

// isMounted reports whether something is mounted at path (which must be
// clean and free of symbolic links).
func isMounted(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("while reading mounts: %w", err)
	}
	defer f.Close()
	points, err := parseMountPoints(f)
	if err != nil {
		return false, fmt.Errorf("while reading mounts: %w", err)
	}
	for _, p := range points {
		if p == path {
			return true, nil
		}
	}
	return false, nil
}

// parseMountPoints returns the mount points (field 5) of a
// /proc/<pid>/mountinfo, with the kernel's octal escapes undone.
func parseMountPoints(r io.Reader) ([]string, error) {
	var points []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("mountinfo: %d fields in a line, want at least 5", len(f))
		}
		points = append(points, unescapeMount(f[4]))
	}
	return points, sc.Err()
}

// unescapeMount undoes the \ooo escapes the kernel writes for space, tab,
// newline and backslash in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ext4 superblock: 1024 bytes at offset 1024.
const (
	sbOffset      = 1024
	sbSize        = 1024
	sbMagic       = 0xEF53
	incompat64Bit = 0x80
)

// parseExt4Size returns the size in bytes of the ext2/3/4 filesystem whose
// superblock is sb (block count × block size).
func parseExt4Size(sb []byte) (int64, error) {
	if len(sb) < sbSize {
		return 0, fmt.Errorf("superblock: %d bytes, want %d", len(sb), sbSize)
	}
	le := binary.LittleEndian
	if le.Uint16(sb[0x38:]) != sbMagic {
		return 0, errors.New("superblock: not an ext2/3/4 filesystem")
	}
	logBlock := le.Uint32(sb[0x18:])
	if logBlock > 6 { // 1 KiB << 6 = 64 KiB, the largest block size
		return 0, fmt.Errorf("superblock: bad block size exponent %d", logBlock)
	}
	blocks := uint64(le.Uint32(sb[0x4:]))
	if le.Uint32(sb[0x60:])&incompat64Bit != 0 {
		blocks |= uint64(le.Uint32(sb[0x150:])) << 32
	}
	if blocks > 1<<40 { // far beyond any volume hoard makes
		return 0, fmt.Errorf("superblock: implausible block count %d", blocks)
	}
	return int64(blocks) << (10 + logBlock), nil
}

// imageSizes returns the size of the image file and of the filesystem in it.
func imageSizes(img string) (file, fs int64, err error) {
	f, err := os.Open(img)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	sb := make([]byte, sbSize)
	if _, err := f.ReadAt(sb, sbOffset); err != nil {
		return 0, 0, fmt.Errorf("while reading the superblock of %s: %w", img, err)
	}
	fs, err = parseExt4Size(sb)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", img, err)
	}
	return fi.Size(), fs, nil
}

var _ driver.VolumeResizer = (*Driver)(nil)

// ResizeVolume implements driver.VolumeResizer. The filesystem of a loop
// volume is grown offline (an online ext4 grow needs CAP_SYS_RESOURCE,
// which hoard may lack): stop the engine, unmount, extend the image, check
// it (e2fsck -f -p, which resize2fs requires), resize2fs, mount, start. The
// decision to grow is taken from the filesystem's own superblock, so a
// repeat after a crash at any point redoes what is missing and no more. An
// instance with a plain data directory has no size to enforce: its engine
// is only started if it does not run.
func (d *Driver) ResizeVolume(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.resize_volume"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	inst, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	id := s.InstanceID
	if !exists(d.dir(id)) {
		return fault.Wrap(fault.NotFound, op, "instance not provisioned", driver.ErrNotFound)
	}
	if !d.usesVolume(id) {
		// Nothing to grow; started as every ResizeVolume leaves it.
		d.log.Info("volume not enforced (plain data directory); size recorded only", "instance_id", id, "volume_gb", s.VolumeGB)
		if err := d.render(op, s, eng); err != nil {
			return err
		}
		return d.start(op, inst, s, eng, nil, nil)
	}
	img := filepath.Join(d.dir(id), imageName)
	want := volumeBytes(s.VolumeGB)
	fileSize, fsSize, err := imageSizes(img)
	if err != nil {
		return fmt.Errorf("while inspecting the volume of instance %s: %w", id, err)
	}
	if fsSize < want || fileSize < want {
		start := time.Now()
		steps := []struct {
			name string
			run  func() error
		}{
			{"stop", func() error { return d.stop(ctx, inst, id) }},
			{"unmount", func() error { return d.unmount(id) }},
			{"truncate", func() error {
				if fileSize >= want {
					return nil
				}
				return os.Truncate(img, want)
			}},
			{"e2fsck", func() error { return fsck(ctx, img) }},
			// Not cancellable: killing resize2fs half-way can leave the
			// filesystem damaged.
			{"resize2fs", func() error { return run(context.WithoutCancel(ctx), "resize2fs", img) }},
		}
		for _, st := range steps {
			if err := st.run(); err != nil {
				return fmt.Errorf("while growing the volume of instance %s (%s): %w", id, st.name, err)
			}
			if d.growHook != nil {
				if err := d.growHook(st.name); err != nil {
					return err
				}
			}
		}
		if _, fsSize, err = imageSizes(img); err != nil {
			return fmt.Errorf("while inspecting the volume of instance %s: %w", id, err)
		}
		if fsSize < want {
			return fmt.Errorf("volume of instance %s is %d bytes after resize2fs, want %d", id, fsSize, want)
		}
		d.log.Info("grew volume", "instance_id", id, "volume_gb", s.VolumeGB, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := d.ensureVolume(ctx, s, false); err != nil {
		return err
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	return d.start(op, inst, s, eng, nil, nil)
}

// fsck checks an unmounted image, repairing what is safe to repair. Exit
// status 1 (errors corrected) and 2 (corrected, reboot advised: only for
// the root filesystem) count as success.
func fsck(ctx context.Context, img string) error {
	p, err := tool("e2fsck")
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, p, "-f", "-p", img).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 1 || ee.ExitCode() == 2) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("e2fsck -f -p %s: %w: %s", img, err, bytes.TrimSpace(out))
	}
	return nil
}
