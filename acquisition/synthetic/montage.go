package synthetic

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Montages of the 10-10 system by channel count. 64 is PhysioNet EEGMMIDB's (BCI2000) set.
var montages = map[int][]string{
	8:  {"Fz", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"},
	16: {"Fp1", "Fp2", "F3", "Fz", "F4", "C3", "Cz", "C4", "P3", "Pz", "P4", "PO7", "PO8", "O1", "Oz", "O2"},
	32: {"Fp1", "Fp2", "AF3", "AF4", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3", "Cz",
		"C4", "T8", "CP5", "CP1", "CP2", "CP6", "P7", "P3", "Pz", "P4", "P8", "PO3", "PO4", "O1", "Oz", "O2"},
	64: {"FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP5", "CP3",
		"CP1", "CPz", "CP2", "CP4", "CP6", "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8", "F7", "F5", "F3",
		"F1", "Fz", "F2", "F4", "F6", "F8", "FT7", "FT8", "T7", "T8", "T9", "T10", "TP7", "TP8", "P7", "P5",
		"P3", "P1", "Pz", "P2", "P4", "P6", "P8", "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz"},
}

// MontageSizes lists the channel counts Montage knows.
func MontageSizes() []int { return []int{8, 16, 32, 64} }

// Montage returns the channel names of the n-channel montage.
func Montage(n int) ([]string, error) {
	names, ok := montages[n]
	if !ok {
		return nil, fmt.Errorf("no %d-channel montage: choose one of %v", n, MontageSizes())
	}
	return append([]string(nil), names...), nil
}

// headRadiusM is an average adult head radius, for positions in metres.
const headRadiusM = 0.095

// rowAngleDeg is each 10-10 row's angle from the vertex along the midline, in degrees: rows are
// 10% (18°) apart from nasion to inion, negative toward the front.
var rowAngleDeg = map[string]float64{"Fp": -72, "AF": -54, "F": -36, "FC": -18, "FT": -18, "C": 0, "T": 0,
	"CP": 18, "TP": 18, "P": 36, "PO": 54, "O": 72, "I": 90}

// Position returns an approximate 10-10 position (metres, RAS: x right, y front, z up) on a spherical
// head: rows are 18° apart along the midline and numbered electrodes 18°·k/2 off it (odd left, even
// right; T7/T8 at 90°). Good enough for spatially smooth simulated sources, not for source imaging.
func Position(name string) ([3]float64, error) {
	i := strings.IndexFunc(name, func(r rune) bool { return r == 'z' || r == 'Z' || (r >= '0' && r <= '9') })
	if i <= 0 {
		return [3]float64{}, fmt.Errorf("channel %q: not a 10-10 name", name)
	}
	row, rest := name[:i], name[i:]
	ap, ok := rowAngleDeg[row]
	if !ok {
		return [3]float64{}, fmt.Errorf("channel %q: unknown row %q", name, row)
	}
	lat := 0.0
	if rest != "z" && rest != "Z" {
		k, err := strconv.Atoi(rest)
		if err != nil || k < 1 {
			return [3]float64{}, fmt.Errorf("channel %q: bad electrode number %q", name, rest)
		}
		lat = 18 * float64((k+1)/2)
		if k >= 9 { // T9/T10 sit below the T7/T8 line
			lat = 108
		}
		if k%2 == 1 {
			lat = -lat
		}
	}
	// Azimuthal equidistant projection from the vertex: the angular distance is the polar angle.
	theta := math.Hypot(ap, lat) * math.Pi / 180
	phi := math.Atan2(-ap, lat) // front (negative ap) is +y
	return [3]float64{
		headRadiusM * math.Sin(theta) * math.Cos(phi),
		headRadiusM * math.Sin(theta) * math.Sin(phi),
		headRadiusM * math.Cos(theta),
	}, nil
}
