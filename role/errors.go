package role

import "errors"

// ErrSettingNotFound is wrapped by the error Env.Setting returns for a setting
// that is not configured. Check it with errors.Is.
var ErrSettingNotFound = errors.New("setting not found")
