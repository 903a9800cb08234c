//go:build !unix

package filebytes

import (
	"errors"
	"os"
)

// mapFile reports that memory mapping is not available; callers read the file instead.
func mapFile(*os.File, int64) ([]byte, func() error, error) {
	return nil, nil, errors.New("memory mapping not available")
}
