"""The ``contact`` GRF estimator: whole-body momentum for how much load, a kinematic contact model for where.

Whole-body momentum (Newton-Euler on the IK motion, :mod:`builder.biosim.body_kinematics`) is trustworthy
for the total *vertical* force: on the real Rajagopal walk through ULBS-112 it matches the plates' total
with r = 0.975. Its horizontal components and its centre of pressure depend on every segment's
acceleration and on the model's inertias: against the same plates the momentum's AP force has r = 0.88,
its single-support COP errs by 4 cm (7-14 cm on the run), and both get worse at 30 fps. So:

1. **Contact** of feet, hands, knees, elbows, pelvis and trunk from their markers
   (:mod:`builder.biosim.ground_contact`).
2. **Vertical force**: the momentum's on frames with contact, zero in flight. With ``flight_impulse`` the
   upward impulse that the kinematics filter smears into a flight phase goes back to the contact phase it
   came from: the run's vertical peak error falls from 0.12 to 0.09 BW, but every clip's pelvis residual
   grows (the flight frames keep theirs), and the joint moments do not change (hip/knee/ankle within 0.01).
3. **Shares**: two feet by the smooth transition assumption (Ren et al. 2008) in double supports of at most
   ``max_transition`` s, by the lever rule when standing or where the motion's first or last frame cuts a
   double support (:func:`~builder.biosim.grf.transition_shares`); with other sites on the floor, the shares
   whose contact points best reproduce the whole-body COP (a generalised lever rule), smoothed over
   ``share_smoothing`` s.
4. **Centre of pressure** of a foot in a gait stance (alternating with the other foot, at most
   ``max_stance`` s): rollover along the heel -> metatarsal-head line, from ``rollover[0]`` at the first
   loaded frame to the metatarsal heads (1) at the stance's last vertical force peak (walking's push-off,
   running's single peak) and on to ``rollover[1]`` at toe off; a running stance (the other foot off the
   floor throughout) rolls on to the toe tip, ``running_toe_off``. The real walk's plates put it at 0.2-0.3
   at strike, 1.0 at that peak and 1.1-1.2 at toe off in these units; the run's at 0.0-0.2, 1.0 and 1.5 at
   90 % of the stance, ~2 at toe off. A forefoot strike starts at ``forefoot_strike``. Standing (longer
   contacts, both feet landing together): the whole-body COP clipped to the foot. Other sites: the mean of
   their points on the floor. The floor lies ``marker_height`` below the lowest foot marker's standing
   level (markers sit on the skin or shoe above the sole; the horizontal forces act at the floor).
5. **Horizontal force** in gait stances. AP: each foot's force points from its COP at a virtual pivot
   ``pivot_above_com`` above the centre of mass: above it in walking, below it in running (the force lines
   of human running cross ~0.3 m below the COM at 5 m/s, Drama et al. 2020; Firouzi et al. 2022). This gives
   the opposite braking and push-off forces of the two feet in double support. A landing foot's AP lean is
   phased in with its load, up to the stance's first load peak, and in double support with its load share:
   on the plates its AP force lags its vertical force (on the real run, against the plates: AP r 0.923 ->
   0.965, hip/knee sagittal moment RMSE 0.37/0.35 -> 0.29/0.26, 0.24/0.22 -> 0.17/0.17 N m/kg with the
   pivot 0.2 m below the COM; 0.3 m below, as published, keeps the AP peaks within 0.05 BW). The momentum
   corrects the feet's sum below ``horizontal_cutoff_hz``. ML: the pendulum's, plus per stance the vertical
   force times a lean linear in stance time (``lean_degree``), the leans fitted so that the sum meets the
   momentum's ML force (ridge least squares): the momentum's ML force, reliable as an impulse per stance, is
   not per frame (its 6 Hz content is 3x the run's plates'), and the run's plates push laterally, against the
   pendulum. Where the pendulum leaves more than ``pendulum_tolerance`` of the momentum's horizontal force
   unexplained (kicks, dance; DeepMimic's walk too: its ML momentum varies by 0.185 BW RMS, 3.7x the real
   walk's, and the stance leans miss it by 0.17 BW), and everywhere else, the momentum's horizontal force is
   shared like the vertical one.
   No friction cone by default: animated motion asks for more than a floor gives (DeepMimic's dance_a on
   27 % of its frames more than 0.8 x F_v) and a cap (``friction``) moves that into the pelvis residual.
6. **Free moment**: the vertical part of what the momentum's moment leaves after placing the forces at the
   COPs, shared, bounded by ``free_moment_arm`` x F_v; the rest (``dropped_moment``) ends in the pelvis
   residual moment of inverse dynamics.

What the loads cannot explain (``GroundReactions.residual_force``, per frame, written to ``grf_contact.sto``)
is the pelvis residual force of inverse dynamics: small where the motion is physical and something is on
the floor; in flight, the motion's own non-physicality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import nnls
from scipy.sparse.linalg import spsolve

from builder.biosim.body_kinematics import BodyKinematics, lowpass, sample_body_kinematics
from builder.biosim.grf import (
    SIDES,
    GRFEstimator,
    GroundReactions,
    _nearest_on_segment,
    _runs,
    transition_shares,
    wrench_cop,
)
from builder.biosim.ground_contact import ContactSite, alternating, default_sites, detect_contact, foot_alternatives

WALKING, RUNNING = 1, 2   # gait stance codes: the other foot lands during it / stays off the floor throughout


def _peak(load: np.ndarray, fraction: float = 0.8, last: bool = True) -> int | None:
    """Index of the last (``last``) or first interior local maximum of ``load`` that reaches ``fraction`` of its
    maximum."""
    if len(load) < 3 or load.max() <= 0:
        return None
    inner = np.flatnonzero((load[1:-1] >= load[:-2]) & (load[1:-1] > load[2:]) & (load[1:-1] >= fraction * load.max()))
    return int(inner[-1 if last else 0] + 1) if len(inner) else None


def _run_start(mask: np.ndarray, i: int) -> int:
    """First index of the True run of ``mask`` that holds index ``i``."""
    off = np.flatnonzero(~mask[:i + 1])
    return int(off[-1]) + 1 if len(off) else 0


def stance_leans(vertical: np.ndarray, stances: np.ndarray, target: np.ndarray, frames: np.ndarray, degree: int,
                 ridge: float, scale: float) -> np.ndarray:
    """Horizontal forces (T, N): each site's vertical force (T, N) times a polynomial of ``degree`` in the
    normalised time of its stance (a run where ``stances`` (T, N) is nonzero), the polynomials fitted by
    ridge least squares so that the forces' sum meets ``target`` (T,) on ``frames`` (T,) bool. Forces are
    divided by ``scale`` (N) in the fit, so ``ridge`` weighs the dimensionless leans. Sparse: one column per
    stance and power, nonzero on its stance only."""
    rows, cols, values, owners = [], [], [], []
    for k in range(vertical.shape[1]):
        for a, b in _runs(stances[:, k] > 0):
            tau = np.linspace(-1.0, 1.0, b - a + 1)
            for j in range(degree + 1):
                rows.append(np.arange(a, b + 1))
                cols.append(np.full(b - a + 1, len(owners)))
                values.append(vertical[a:b + 1, k] * tau ** j / scale)
                owners.append(k)
    out = np.zeros_like(vertical)
    if not owners:
        return out
    basis = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(len(target), len(owners)))
    fitted = basis[np.flatnonzero(frames)]
    normal = (fitted.T @ fitted + ridge * sparse.identity(len(owners))).tocsc()
    coefficients = np.atleast_1d(spsolve(normal, fitted.T @ (target[frames] / scale)))
    for k in range(vertical.shape[1]):
        out[:, k] = scale * (basis @ np.where(np.array(owners) == k, coefficients, 0.0))
    return out


def _rolling_forwards(cop: np.ndarray, t: np.ndarray, first: int, floor_velocity: np.ndarray) -> np.ndarray:
    """A stance's COP path (n, 3) made to roll forwards only: held at frame ``first`` before it (the foot still
    sliding in, unloaded), then monotone in x and in z in the floor's frame (a treadmill's belt moves at
    ``floor_velocity``), though the heel marker swings back as the foot lands on its heel and animated feet
    skate."""
    drift = floor_velocity * (t - t[0])[:, None]
    on_floor = cop - drift
    on_floor[:first] = on_floor[first]
    for dim in (0, 2):
        sign = np.sign(on_floor[-1, dim] - on_floor[first, dim])
        along = sign * on_floor[:, dim]
        on_floor[:, dim] += sign * (np.maximum.accumulate(along) - along)
    return on_floor + drift


def walking_heading(t: np.ndarray, com: np.ndarray, walking: np.ndarray, floor_velocity: np.ndarray,
                    min_speed: float = 0.2) -> np.ndarray:
    """Unit direction of progression (T, 2: x, z) of each gait bout (a run of ``walking`` frames): the mean
    horizontal velocity of the centre of mass ``com`` (T, 3) relative to the floor over the bout, +x where it
    is slower than ``min_speed`` m/s (walking on the spot) and off the gait bouts. A clip walks along any
    horizontal direction of its frame (DeepMimic's along +x, the gaitkit walk along -z)."""
    heading = np.zeros((len(t), 2))
    heading[:, 0] = 1.0
    for a, b in _runs(walking):
        if b <= a:
            continue
        velocity = (com[b, [0, 2]] - com[a, [0, 2]]) / (t[b] - t[a]) - floor_velocity[[0, 2]]
        speed = float(np.hypot(*velocity))
        if speed >= min_speed:
            heading[a:b + 1] = velocity / speed
    return heading


@dataclass
class ContactGRFEstimator(GRFEstimator):
    """Momentum-derived total load, kinematic contact, rollover COP and pendulum horizontal forces."""

    sites: tuple[ContactSite, ...] = field(default_factory=default_sites)
    cutoff_hz: float = 6.0             # kinematics low-pass for the momentum (ID's default too)
    contact_height: float = 0.05       # m above the point's floor level
    contact_speed: float = 1.0         # m/s horizontal, relative to the floor
    strike_height: float = 0.02        # m: this close to the floor a point touches at up to
    strike_speed: float = 1.5          # m/s (a heel still sliding at strike, coarse frame rates)
    floor_percentile: float = 2.0
    still_speed: float = 0.3           # m/s: a foot point this slow near its lowest is standing
    max_transition: float = 0.4        # s; longer double support of the feet uses the lever rule
    max_stance: float = 1.5            # s; a longer foot contact is standing: COP from the momentum
    rollover: tuple[float, float] = (0.25, 1.4)   # COP at strike / toe off, heel -> metatarsal heads = 1
    running_toe_off: float = 1.8       # COP at toe off of a running stance: the toe tip (foot length / heel-MT5)
    forefoot_strike: float = 0.9       # COP at strike when the forefoot touches before the heel
    loaded_fraction: float = 0.05      # of its peak: the rollover spans the stance where the foot bears this
    push_off_fraction: float = 0.7     # of a stance: COP at the metatarsal heads when no force peak is seen
    pivot_above_com: tuple[float, float] = (0.2, -0.3)  # m, walking / running: the forces' virtual pivot
    horizontal_cutoff_hz: float = 1.0  # the momentum corrects the pendulum's AP force below this
    lean_degree: int = 1               # ML force / vertical force of a gait stance: polynomial in stance time
    lean_ridge: float = 1e-3           # pulls the stance leans' coefficients towards 0
    pendulum_tolerance: float = 0.15   # of body weight: RMS horizontal force the pendulum may leave unexplained
    free_moment_arm: float = 0.02      # m: |free moment| <= this * F_v (plates: ~10 N m at 1 BW in walking)
    friction: float | None = None      # |F_h| <= friction * F_v (None: no cap, see the module docstring)
    marker_height: float = 0.02        # m: the lowest foot marker's standing height above the floor
    share_smoothing: float = 0.1       # s; moving average of the multi-site shares
    flight_impulse: bool = False     # move the filter's leak into flight back to the contact phase
    min_vertical_fraction: float = 0.05  # of body weight: below it the whole-body COP is undefined
    name: str = "contact"

    def estimate(self, model_path, coordinates_path) -> GroundReactions:
        candidates = self.sites + tuple(alt for side in SIDES for alt in foot_alternatives(side))
        wanted = tuple(p for site in candidates for p in site.points if not p.startswith("body:"))
        feet_bodies = tuple(f"{b}_{s}" for b in ("calcn", "toes") for s in SIDES)
        kin = sample_body_kinematics(model_path, coordinates_path, self.cutoff_hz, bodies=feet_bodies,
                                     markers=wanted)
        kin.points.update({f"body:{b}": kin.points[b] for b in feet_bodies})
        sites = self._available(kin)
        return self._estimate(kin, sites)

    def _available(self, kin: BodyKinematics) -> tuple[ContactSite, ...]:
        sites = []
        for site in self.sites:
            if all(p in kin.points for p in site.points):
                sites.append(site)
            elif site.kind == "foot" and site.label in SIDES:
                sites.append(next(alt for alt in foot_alternatives(site.label)
                                  if all(p in kin.points for p in alt.points)))
        feet = [s for s in sites if s.kind == "foot"]
        if [s.label for s in feet] != list(SIDES):
            raise ValueError(f"contact sites must start with the two feet {SIDES}, got {[s.label for s in sites]}")
        return tuple(feet + [s for s in sites if s.kind != "foot"])

    # --- vertical force --------------------------------------------------------------------
    def _vertical(self, t: np.ndarray, needed: np.ndarray, grounded: np.ndarray) -> np.ndarray:
        """Total vertical force (T,): the momentum's on contact frames, zero in flight. The low-pass filter
        smears a landing or take-off into the flight frames within half a cutoff period of it; with
        ``flight_impulse`` that (upward) impulse goes back to the contact phase it came from, in proportion to
        its force. A downward pull in flight is the motion's own (falling faster than gravity) and stays in the
        residual."""
        vertical = np.where(grounded, needed, 0.0)
        if not self.flight_impulse:
            return np.maximum(vertical, 0.0)
        dt = np.gradient(t)
        leak = 0.5 / self.cutoff_hz
        for a, b in _runs(grounded):
            profile = np.maximum(vertical[a:b + 1], 0.0)
            if profile.sum() <= 0:
                continue
            smeared = (~grounded) & (((t < t[a]) & (t >= t[a] - leak)) | ((t > t[b]) & (t <= t[b] + leak)))
            impulse = float(np.sum(np.maximum(needed[smeared], 0.0) * dt[smeared]))
            vertical[a:b + 1] += profile * impulse / float(np.sum(profile * dt[a:b + 1]))
        return np.maximum(vertical, 0.0)

    # --- shares ----------------------------------------------------------------------------
    def _shares(self, t, contact, sites, site_cop, total_cop, foot_cop_fn) -> np.ndarray:
        n = len(sites)
        share = np.zeros((len(t), n))
        feet_only = ~contact[:, 2:].any(axis=1)
        foot_share = transition_shares(t, contact[:, :2], self.max_transition, foot_cop_fn)
        share[:, :2] = np.where(feet_only[:, None], foot_share, 0.0)
        multi = np.flatnonzero(~feet_only)
        if len(multi):
            for i in multi:
                share[i] = self._lever(site_cop[i], contact[i], total_cop[i])
            window = max(1, int(round(self.share_smoothing * len(t) / max(t[-1] - t[0], 1e-9))))
            kernel = np.ones(window) / window
            smoothed = np.stack([np.convolve(share[:, k], kernel, mode="same") for k in range(n)], axis=1)
            share[multi] = smoothed[multi] * contact[multi]
        share[~contact.any(axis=1)] = 0.0
        return share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12)

    @staticmethod
    def _lever(points: np.ndarray, on: np.ndarray, target: np.ndarray, regularisation: float = 0.05) -> np.ndarray:
        """Shares w >= 0, sum 1, of the sites ``on`` whose weighted points (N, 3) best meet ``target``
        on the floor (NaN target: equal shares); ``regularisation`` (m) pulls towards equal shares."""
        idx = np.flatnonzero(on)
        out = np.zeros(len(on))
        if len(idx) == 1 or np.isnan(target).any():
            out[idx] = 1.0 / len(idx)
            return out
        xz = points[idx][:, [0, 2]].T                                      # (2, n)
        big = 10.0
        a = np.vstack([xz, big * np.ones((1, len(idx))), regularisation * np.eye(len(idx))])
        b = np.concatenate([target[[0, 2]], [big], regularisation * np.full(len(idx), 1.0 / len(idx))])
        w, _ = nnls(a, b)
        out[idx] = w / max(w.sum(), 1e-12)
        return out

    # --- centres of pressure -----------------------------------------------------------------
    def _foot_cop(self, t, kin, site, contact, other, flags, floor, floor_velocity, total_cop, alone, load
                  ) -> tuple[np.ndarray, np.ndarray]:
        """COP (T, 3) of a foot on the floor and its gait (T,) int: ``WALKING`` or ``RUNNING`` stance, else 0.

        A gait stance (at most ``max_stance`` long, alternating with the ``other`` foot's contact (T,) bool)
        rolls over along heel -> metatarsal heads, reaching them at its last peak of vertical force ``load``
        (T,); a running one (the other foot off the floor throughout) on to the toe tip. A longer one, or one
        landing together with the other foot, is standing: the whole-body COP clipped to the foot when the
        foot stands alone (``alone``), else mid-foot."""
        heel = kin.points[site.points[0]].copy()
        mt = 0.5 * (kin.points[site.points[1]] + kin.points[site.points[2]])
        toe = kin.points[site.points[3]].copy()
        heel[:, 1] = mt[:, 1] = toe[:, 1] = floor
        axis = mt - heel
        cop = heel + 0.6 * axis
        gait = np.zeros(len(t), np.int8)
        runs = _runs(contact)
        durations = [t[b] - t[a] for a, b in runs if a > 0 and b < len(t) - 1]
        typical = float(np.median(durations)) if durations else 0.6
        for a, b in runs:
            cut_start, cut_end = a == 0, b == len(t) - 1
            duration = t[b] - t[a] if not (cut_start or cut_end) else max(typical, t[b] - t[a])
            if duration > self.max_stance or (cut_start and cut_end) or not alternating(other, a, b):
                clipped = _nearest_on_segment(total_cop[a:b + 1], heel[a:b + 1], toe[a:b + 1], floor)
                mid = heel[a:b + 1] + 0.6 * axis[a:b + 1]
                cop[a:b + 1] = np.where(alone[a:b + 1, None], clipped, mid)
                continue
            tt = t[a:b + 1]
            loaded = np.flatnonzero(load[a:b + 1] >= self.loaded_fraction * max(load[a:b + 1].max(), 1e-9))
            start = tt[loaded[0]] if not cut_start and len(loaded) else t[b] - duration
            end = tt[loaded[-1]] if not cut_end and len(loaded) else start + duration
            strike = a if not cut_start else b
            heel_first = flags[site.points[0]][strike] or not (
                flags[site.points[1]][strike] or flags[site.points[2]][strike])
            s0 = self.rollover[0] if heel_first else self.forefoot_strike
            running = not other[a:b + 1].any()
            toe_off = self.running_toe_off if running else self.rollover[1]
            peak = _peak(load[a:b + 1])
            anchor = tt[peak] if peak is not None else start + self.push_off_fraction * duration
            s = np.where(tt < anchor, s0 + (1.0 - s0) * (tt - start) / max(anchor - start, 1e-9),
                         1.0 + (toe_off - 1.0) * (tt - anchor) / max(end - anchor, 1e-9))
            rolled = heel[a:b + 1] + np.clip(s, s0, toe_off)[:, None] * axis[a:b + 1]
            first = int(loaded[0]) if len(loaded) and not cut_start else 0
            cop[a:b + 1] = _rolling_forwards(rolled, tt, first, floor_velocity)
            gait[a:b + 1] = RUNNING if running else WALKING
        return cop, gait

    @staticmethod
    def _mid_foot(kin, site, floor, s: float = 0.6) -> np.ndarray:
        """The point ``s`` of the way from the heel to the metatarsal heads, on the floor."""
        heel = kin.points[site.points[0]]
        mid = heel + s * (0.5 * (kin.points[site.points[1]] + kin.points[site.points[2]]) - heel)
        mid[:, 1] = floor
        return mid

    @staticmethod
    def _limb_cop(kin, site, flags, floor) -> np.ndarray:
        points = np.stack([kin.points[p] for p in site.points], axis=1)           # (T, P, 3)
        on = np.stack([flags[p] for p in site.points], axis=1).astype(np.float64)
        weights = np.where(on.sum(axis=1, keepdims=True) > 0, on, 1.0)
        cop = (points * weights[..., None]).sum(axis=1) / weights.sum(axis=1)[:, None]
        cop[:, 1] = floor
        return cop

    # --- horizontal forces ---------------------------------------------------------------------
    def _horizontal(self, t, kin, vertical, share, cop, total, grounded, walking, gait, lead_in, ground,
                    floor_velocity) -> np.ndarray:
        """Horizontal forces (T, N, 2: x, z). On ``walking`` frames (every loaded site a foot in a gait stance),
        each foot is an inverted pendulum whose force points from its COP at its gait's virtual pivot
        (``pivot_above_com``). AP: an arriving foot's lean is phased in by ``lead_in`` (T, N), and the momentum
        corrects the feet's sum below ``horizontal_cutoff_hz``; ML: each stance's force gets a lean polynomial
        in stance time, fitted so the sum meets the momentum's (:func:`stance_leans`). Elsewhere the
        momentum's horizontal force is shared like the vertical one. AP and ML are along and across each gait
        bout's direction of progression (:func:`walking_heading`), whichever way the motion's frame faces."""
        out = share[..., None] * np.where(grounded[:, None], total[:, [0, 2]], 0.0)[:, None, :]
        if not walking.any():
            return out
        pivot = np.where(gait == RUNNING, self.pivot_above_com[1], self.pivot_above_com[0])
        height = np.maximum(kin.com[:, None, 1] + pivot - ground, 0.2)
        lean = (kin.com[:, None, :] - cop) / height[..., None]
        heading = walking_heading(t, kin.com, walking, floor_velocity)                # (T, 2): x, z
        across = np.stack([-heading[:, 1], heading[:, 0]], axis=1)                    # +x -> +z
        pendulum = np.where(walking[:, None, None], vertical[..., None] * lean[..., [0, 2]], 0.0)
        along_pendulum = np.einsum("tnk,tk->tn", pendulum, heading) * lead_in
        across_pendulum = np.einsum("tnk,tk->tn", pendulum, across)
        correction = np.einsum("tk,tk->t", total[:, [0, 2]], heading) - along_pendulum.sum(axis=1)
        bridged = np.interp(t, t[walking], correction[walking])
        anterior = along_pendulum + share * lowpass(bridged, kin.fps, self.horizontal_cutoff_hz)[:, None]
        lateral = across_pendulum + stance_leans(
            vertical, np.where(walking[:, None], gait, 0),
            np.einsum("tk,tk->t", total[:, [0, 2]], across) - across_pendulum.sum(axis=1), walking,
            self.lean_degree, self.lean_ridge, kin.body_weight)
        rotated = anterior[..., None] * heading[:, None, :] + lateral[..., None] * across[:, None, :]
        out[walking] = rotated[walking]
        return out

    @staticmethod
    def _lead_in(t, contact, share, load, gait, max_transition) -> np.ndarray:
        """Weights (T, N) of the feet's AP pendulum leans: 1, but rising with the foot's vertical force ``load``
        (T, N) over the loading part of each gait stance (``gait`` (T, N) nonzero), as load / the stance's
        first peak load (:func:`_peak`) up to that peak, and, for the foot arriving in a double support of at
        most ``max_transition`` s, at most its (smooth transition) share of the load. The plates show a
        landing foot's AP force lagging its vertical force: on the real walk near zero, even forwards, over
        the first third of the double support, braking only later (cf. Villeger et al. 2014, who needed a
        later transition for the AP force than for the vertical one); on the real run the braking peak comes
        after the vertical force's rise, while the pendulum fed the 6 Hz vertical force brakes hardest during it."""
        weight = np.ones_like(share)
        for k in range(share.shape[1]):
            for a, b in _runs(gait[:, k] > 0):
                first = _peak(load[a:b + 1, k], last=False)
                peak = a + (first if first is not None else int(np.argmax(load[a:b + 1, k])))
                weight[a:peak, k] = load[a:peak, k] / max(load[peak, k], 1e-9)
        for a, b in _runs(contact[:, 0] & contact[:, 1]):
            if t[b] - t[a] > max_transition:
                continue
            starts = [_run_start(contact[:, k], a) for k in range(2)]
            if starts[0] != starts[1]:
                arriving = int(np.argmax(starts))
                weight[a:b + 1, arriving] = np.minimum(weight[a:b + 1, arriving], share[a:b + 1, arriving])
        return weight

    # --- the estimate ---------------------------------------------------------------------------
    def _estimate(self, kin: BodyKinematics, sites) -> GroundReactions:
        t = kin.time
        n_sites = len(sites)
        state = detect_contact(kin, sites, self.contact_height, self.contact_speed, self.strike_height,
                               self.strike_speed, self.still_speed, self.floor_percentile)
        contact, floor, floor_velocity, flags = state.contact, state.floor, state.floor_velocity, state.flags
        ground = floor - self.marker_height
        grounded = contact.any(axis=1)
        needed, moment = kin.external_wrench()
        bw = kin.body_weight
        vertical = self._vertical(t, needed[:, 1], grounded)
        total = np.where(grounded[:, None], needed, 0.0)
        total[:, 1] = vertical
        total_cop = wrench_cop(total, moment, ground, self.min_vertical_fraction * bw)
        alone = contact[:, :2] & ~np.roll(contact[:, :2], 1, axis=1) & ~contact[:, 2:].any(axis=1)[:, None]
        cop = np.stack([self._mid_foot(kin, site, ground) if site.kind == "foot"
                        else self._limb_cop(kin, site, flags, ground) for site in sites], axis=1)

        def foot_lever(start: int, end: int) -> np.ndarray:
            return np.stack([self._lever(cop[i, :2], contact[i, :2], total_cop[i]) for i in range(start, end + 1)])

        share = self._shares(t, contact, sites, cop, total_cop, foot_lever)
        gait = np.zeros((len(t), n_sites), np.int8)
        for k, site in enumerate(sites):
            if site.kind == "foot":
                cop[:, k], gait[:, k] = self._foot_cop(t, kin, site, contact[:, k], contact[:, 1 - k], flags, ground,
                                                       floor_velocity, total_cop, alone[:, k], share[:, k] * vertical)
        # gait frames: every loaded site is a foot in a gait stance
        walking = grounded & np.all((gait > 0) | ~contact, axis=1)
        lead_in = self._lead_in(t, contact, share, share * vertical[:, None], gait, self.max_transition)
        force = np.zeros((len(t), n_sites, 3))
        force[:, :, 1] = share * vertical[:, None]

        def horizontal() -> np.ndarray:
            return self._horizontal(t, kin, force[:, :, 1], share, cop, total, grounded, walking, gait, lead_in,
                                    ground, floor_velocity)

        force[:, :, [0, 2]] = horizontal()
        # the pendulum stays only where the motion agrees with it: where it leaves more of the momentum's
        # horizontal force unexplained than ``pendulum_tolerance``, the motion is not walking or running
        unexplained = np.linalg.norm((total - force.sum(axis=1))[:, [0, 2]], axis=1) / bw
        for a, b in _runs(walking):
            if np.sqrt(np.mean(unexplained[a:b + 1] ** 2)) > self.pendulum_tolerance:
                walking[a:b + 1] = False
        force[:, :, [0, 2]] = horizontal()
        if self.friction is not None:
            tangential = np.hypot(force[..., 0], force[..., 2])
            limit = self.friction * force[..., 1]
            scale = np.where(tangential > limit, limit / np.maximum(tangential, 1e-12), 1.0)
            force[..., 0] *= scale
            force[..., 2] *= scale
        free = np.where(grounded, moment[:, 1] - np.cross(cop, force).sum(axis=1)[:, 1], 0.0)
        torque = np.zeros_like(force)
        limit = self.free_moment_arm * force[..., 1]
        torque[:, :, 1] = np.clip(share * free[:, None], -limit, limit)
        dropped = np.where(grounded[:, None], moment - np.cross(cop, force).sum(axis=1) - torque.sum(axis=1), 0.0)
        residual = needed - force.sum(axis=1)
        return GroundReactions(
            time=t, force=force, cop=cop, torque=torque, bodies=tuple(s.body for s in sites), body_weight=bw,
            contact=contact, labels=tuple(s.label for s in sites), residual_force=residual,
            diagnostics={
                "estimator": self.name,
                "floor_height_m": ground,
                "floor_velocity_m_s": [float(v) for v in floor_velocity[[0, 2]]],
                "flight_frames": int((~grounded).sum()),
                "contact_fraction": {s.label: float(contact[:, k].mean()) for k, s in enumerate(sites)},
                "residual_force_contact_rms_bw": float(np.sqrt(np.mean(np.sum(residual[grounded] ** 2, axis=1))) / bw)
                if grounded.any() else float("nan"),
                "residual_force_flight_rms_bw": float(np.sqrt(np.mean(np.sum(residual[~grounded] ** 2, axis=1))) / bw)
                if (~grounded).any() else 0.0,
                "dropped_moment_rms_Nm": float(np.sqrt(np.mean(np.sum(dropped ** 2, axis=1)))),
            })

