"""The ``contact`` GRF estimator: whole-body momentum for how much load, a kinematic contact model for where.

Whole-body momentum (Newton-Euler on the IK motion) is trustworthy for the *total vertical* force:
on the real Rajagopal walk it matches the plates' total with r = 0.975. Its horizontal components and
its centre of pressure depend on accelerations of every segment and the model's inertias; they carry
±5 % body-weight wiggles at gait frequencies (AP r = 0.88), and get worse at 30 fps. So:

1. **Contact** from kinematics: each site (feet, hands, knees, :func:`default_sites`) has marker points
   that can touch the floor; a point is on the floor when it is within ``contact_height`` of its floor
   level and slower than ``contact_speed`` relative to the floor (whose velocity, the belt of a
   treadmill, is the median velocity of points near the floor), or very close and slower than
   ``strike_speed``, or sunk below it (animated feet skate and sink). Hands, knees, elbows, pelvis and
   trunk count from their site's ``height`` above the feet's floor.
2. **Vertical force**: the momentum's vertical force on frames with contact, zero in flight; the
   impulse that the kinematics filter smears into a flight phase is handed back to its neighbouring
   contact phases (``flight_impulse``), so each stride keeps the momentum's impulse.
3. **Shares** between sites: two feet by the smooth transition assumption (Ren et al. 2008) in short
   double supports and by the lever rule when standing; any other set of sites (hands, knees) by the
   shares whose weighted contact points best reproduce the whole-body centre of pressure (a generalised
   lever rule, regularised towards equal shares), smoothed over ``share_smoothing`` s.
4. **Centre of pressure** of a foot from its rollover: over a stance it moves along the heel ->
   metatarsal-head line from ``rollover[0]`` to ``rollover[1]`` (units of heel-to-metatarsal-head
   length, measured on the plates of the real walk and run: ~0.2 at heel strike, ~1.3 at toe off),
   starting further forward when the forefoot touches first. Standing phases (longer than
   ``max_stance``) take the whole-body COP clipped to the foot instead. Hands and knees: the mean of
   their points on the floor.
5. **Horizontal force** of a foot from the inverted pendulum of stance: it points from the COP at the
   centre of mass (``F_h = F_v (c - p)_h / (c - p)_y``), which gives the braking and push-off forces of
   the two feet in double support; the momentum's horizontal force corrects the pendulum's sum below
   ``horizontal_cutoff_hz`` (slow trends, the mean), shared like the vertical force. Hands and knees
   take their share of the momentum's horizontal force. Horizontal forces stay inside a friction cone.
6. **Free moment**: the vertical part of what the momentum's moment leaves after placing the forces
   at the COPs, shared like the vertical force; the horizontal rest is reported (``dropped_moment``)
   and ends in the pelvis residual moment of inverse dynamics.

What the estimate cannot explain (``GroundReactions.residual_force``, per frame) is the pelvis residual
force of inverse dynamics: small where a site is on the floor, the motion's own non-physicality in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from builder.biosim.body_kinematics import BodyKinematics, lowpass, sample_body_kinematics
from builder.biosim.grf import (
    SIDES,
    GroundReactions,
    GRFEstimator,
    _nearest_on_segment,
    _runs,
    register_estimator,
    transition_shares,
    wrench_cop,
)


@dataclass(frozen=True)
class ContactSite:
    """A part of the body that can bear load on the floor: applied to ``body``, labelled ``label`` in
    ``grf.mot``; ``points`` are its markers that can touch the floor (feet: heel, 1st and 5th
    metatarsal heads, toe tip, in that order) or, prefixed ``body:``, body origins. A site other than a
    foot touches when a point is within ``height`` (m) of the feet's floor and still."""

    label: str
    body: str
    kind: str                     # "foot", "hand", "knee", "elbow", "pelvis" or "torso"
    points: tuple[str, ...]
    height: float = 0.06


def default_sites() -> tuple[ContactSite, ...]:
    """Feet, hands, knees, elbows, pelvis (sitting, lying) and trunk (lying) of ULBS-112 (markers of
    :mod:`builder.markers`; the trunk's are 2-3 cm of soft tissue above the floor when lying on them)."""
    feet = tuple(ContactSite(s, f"calcn_{s}", "foot", (f"heel_{s}", f"mt1_head_{s}", f"mt5_head_{s}", f"toe_{s}"))
                 for s in SIDES)
    limbs = tuple(site for s in SIDES for site in (
        ContactSite(f"hand_{s}", f"hand_{s}", "hand", (f"mcp2_{s}", f"mcp5_{s}", f"fingertip3_{s}")),
        ContactSite(f"knee_{s}", f"tibia_{s}", "knee", (f"patella_{s}", f"tibial_tuberosity_{s}")),
        ContactSite(f"elbow_{s}", f"ulna_{s}", "elbow", (f"olecranon_{s}",))))
    trunk = (ContactSite("pelvis", "pelvis", "pelvis", ("sacrum", "psis_r", "psis_l", "asis_r", "asis_l"), 0.10),
             ContactSite("torso", "torso", "torso", ("t8", "scapula_inferior_r", "scapula_inferior_l", "xiphoid"), 0.08))
    return feet + limbs + trunk


def _last_peak(load: np.ndarray, fraction: float = 0.8) -> int | None:
    """Index of the last interior local maximum of ``load`` that reaches ``fraction`` of its maximum."""
    if len(load) < 3 or load.max() <= 0:
        return None
    inner = np.flatnonzero((load[1:-1] >= load[:-2]) & (load[1:-1] > load[2:]) & (load[1:-1] >= fraction * load.max()))
    return int(inner[-1] + 1) if len(inner) else None


def _alternating(other: np.ndarray, a: int, b: int) -> bool:
    """Whether a stance a..b of one foot alternates with the ``other`` foot's contact (T,) bool, as in walking and
    running: the other foot is off the floor for part of it and did not touch down with it (within a frame)."""
    single = bool((~other[a:b + 1]).any())
    together = a > 0 and any(other[i] and not other[i - 1] for i in range(max(a - 1, 1), min(a + 2, len(other))))
    return single and not together


def _bare_foot(side: str) -> ContactSite:
    """A foot of a model without our foot markers: calcaneus and toes origins (heel and toe)."""
    return ContactSite(side, f"calcn_{side}", "foot", (f"body:calcn_{side}", f"body:toes_{side}", f"body:toes_{side}",
                                                       f"body:toes_{side}"))


@dataclass
class ContactGRFEstimator(GRFEstimator):
    """Momentum-derived total load, kinematic contact, rollover COP and pendulum horizontal forces."""

    sites: tuple[ContactSite, ...] = field(default_factory=default_sites)
    cutoff_hz: float = 6.0             # kinematics low-pass for the momentum (ID's default too)
    points_cutoff_hz: float | None = None  # low-pass of the contact points (None: cutoff_hz)
    contact_height: float = 0.05       # m above the point's floor level
    contact_speed: float = 1.0         # m/s horizontal, relative to the floor
    strike_height: float = 0.02        # m: this close to the floor a point touches at up to
    strike_speed: float = 1.5          # m/s (a heel still sliding at strike, coarse frame rates)
    floor_percentile: float = 2.0
    still_speed: float = 0.3           # m/s: a foot point this slow near its lowest is standing
    max_transition: float = 0.4        # s; longer double support of the feet uses the lever rule
    max_stance: float = 1.5            # s; a longer foot contact is standing: COP from the momentum
    rollover: tuple[float, float] = (0.2, 1.4)   # COP at strike / toe off, heel -> metatarsal heads = 1
    forefoot_strike: float = 0.9       # COP at strike when the forefoot touches before the heel
    loaded_fraction: float = 0.05      # of its peak: the rollover spans the stance where the foot bears this
    push_off_fraction: float = 0.7     # of a stance: COP at the metatarsal heads when no force peak is seen
    pivot_above_com: float = 0.2       # m: the feet's forces point at this point above the centre of mass
    pendulum_axes: tuple[int, ...] = (0,)     # horizontal axes (0 = x, 2 = z) given by the pendulum
    horizontal_cutoff_hz: tuple[float, float] = (1.0, 6.0)  # x, z: momentum corrections of the pendulum
    pendulum_tolerance: float = 0.15   # of body weight: RMS horizontal force the pendulum may leave unexplained
    free_moment_arm: float = 0.02      # m: |free moment| <= this * F_v (plates: ~10 N m at 1 BW in walking)
    friction: float = 0.8              # |F_h| <= friction * F_v
    share_smoothing: float = 0.1       # s; moving average of the multi-site shares
    flight_impulse: bool = True
    min_vertical_fraction: float = 0.05  # of body weight: below it the whole-body COP is undefined
    name: str = "contact"

    def estimate(self, model_path, coordinates_path) -> GroundReactions:
        wanted = tuple(p for site in self.sites for p in site.points if not p.startswith("body:"))
        feet_bodies = tuple(f"{b}_{s}" for b in ("calcn", "toes") for s in SIDES)
        kin = sample_body_kinematics(model_path, coordinates_path, self.cutoff_hz, bodies=feet_bodies,
                                     optional_markers=wanted, points_cutoff_hz=self.points_cutoff_hz)
        kin.points.update({f"body:{b}": kin.points[b] for b in feet_bodies})
        sites = self._available(kin)
        return self._estimate(kin, sites)

    def _available(self, kin: BodyKinematics) -> tuple[ContactSite, ...]:
        sites = []
        for site in self.sites:
            if all(p in kin.points for p in site.points):
                sites.append(site)
            elif site.kind == "foot" and site.label in SIDES:
                sites.append(_bare_foot(site.label))
        feet = [s for s in sites if s.kind == "foot"]
        if [s.label for s in feet] != list(SIDES):
            raise ValueError(f"contact sites must start with the two feet {SIDES}, got {[s.label for s in sites]}")
        return tuple(feet + [s for s in sites if s.kind != "foot"])

    # --- 1. contact -------------------------------------------------------------------------
    def _contact(self, kin: BodyKinematics, sites) -> tuple[np.ndarray, float, np.ndarray, dict]:
        """Per-site contact (T, N), the floor height, the floor's horizontal velocity and per-point flags."""
        t = kin.time
        feet = [s for s in sites if s.kind == "foot"]
        foot_points = np.stack([np.stack([kin.points[p] for p in s.points], axis=1) for s in feet], axis=1)
        height = foot_points[..., 1]                                          # (T, 2, P)
        velocity = {name: np.gradient(xyz, t, axis=0) for name, xyz in kin.points.items()}
        foot_velocity = np.gradient(foot_points, t, axis=0)
        # the floor's velocity (a treadmill belt): that of the lowest foot point, median over frames
        lowest = height.reshape(len(t), -1).argmin(axis=1)
        floor_velocity = np.median(foot_velocity.reshape(len(t), -1, 3)[np.arange(len(t)), lowest], axis=0)
        floor_velocity[1] = 0.0
        level = self._standing_levels(height, foot_velocity - floor_velocity)       # (2, P)
        floor = float(level.min())
        flags, contact = {}, np.zeros((len(t), len(sites)), bool)
        for k, site in enumerate(sites):
            on = []
            for j, p in enumerate(site.points):
                rel = velocity[p] - floor_velocity
                speed = np.hypot(rel[:, 0], rel[:, 2])
                if site.kind == "foot":
                    above = kin.points[p][:, 1] - level[k, j]
                    point_on = ((above < self.contact_height) & (speed < self.contact_speed)) | (
                        (above < self.strike_height) & (speed < self.strike_speed)) | (above < -self.strike_height)
                else:
                    point_on = (kin.points[p][:, 1] - floor < site.height) & (speed < self.contact_speed)
                flags[p] = point_on
                on.append(point_on)
            contact[:, k] = np.any(on, axis=0)
        return contact, floor, floor_velocity, flags

    def _standing_levels(self, height: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """Each foot point's height when it stands on the floor (2, P): the median of its heights on the
        frames where it is still (horizontal speed < ``still_speed``) in the lower half of its heights.
        A median, not a low percentile: animated feet sink into the floor now and then. A foot never still
        takes its mirror's levels; with neither, the ``floor_percentile`` of the pair."""
        speed = np.hypot(velocity[..., 0], velocity[..., 2])
        level = np.full(height.shape[1:], np.nan)
        for k in range(height.shape[1]):
            for j in range(height.shape[2]):
                h = height[:, k, j]
                still = (speed[:, k, j] < self.still_speed) & (h <= np.median(h))
                if still.sum() >= 3:
                    level[k, j] = np.median(h[still])
        fallback = np.percentile(height, self.floor_percentile, axis=0).min(axis=0)
        mirror = level[::-1]
        return np.where(np.isnan(level), np.where(np.isnan(mirror), fallback, mirror), level)

    # --- 2. vertical force --------------------------------------------------------------------
    def _vertical(self, t: np.ndarray, needed: np.ndarray, grounded: np.ndarray) -> np.ndarray:
        """Total vertical force (T,): the momentum's on contact frames, zero in flight. The low-pass filter
        smears a landing or take-off into the flight frames within half a cutoff period of it; that (upward)
        impulse goes back to the contact phase it came from, in proportion to its force. A downward pull in
        flight is the motion's own (falling faster than gravity) and stays in the residual."""
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

    # --- 3. shares ----------------------------------------------------------------------------
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

    # --- 4. centres of pressure -----------------------------------------------------------------
    def _foot_cop(self, t, kin, site, contact, other, flags, floor, total_cop, alone, load
                  ) -> tuple[np.ndarray, np.ndarray]:
        """COP (T, 3) of a foot on the floor and where it is a gait stance (T,) bool. A gait stance (at most
        ``max_stance`` long, alternating with the ``other`` foot's contact (T,) bool) rolls over along heel -> metatarsal heads, reaching the metatarsal heads at its
        last peak of vertical force ``load`` (T,) (push-off in walking, the single peak of running); a longer
        one, or one landing together with the other foot, is standing: the whole-body COP clipped to the foot
        when the foot stands alone, else mid-foot."""
        heel = kin.points[site.points[0]].copy()
        mt = 0.5 * (kin.points[site.points[1]] + kin.points[site.points[2]])
        toe = kin.points[site.points[3]].copy()
        heel[:, 1] = mt[:, 1] = toe[:, 1] = floor
        axis = mt - heel
        cop = heel + 0.6 * axis
        gait = np.zeros(len(t), bool)
        runs = _runs(contact)
        durations = [t[b] - t[a] for a, b in runs if a > 0 and b < len(t) - 1]
        typical = float(np.median(durations)) if durations else 0.6
        for a, b in runs:
            cut_start, cut_end = a == 0, b == len(t) - 1
            duration = t[b] - t[a] if not (cut_start or cut_end) else max(typical, t[b] - t[a])
            if duration > self.max_stance or (cut_start and cut_end) or not _alternating(other, a, b):
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
            peak = _last_peak(load[a:b + 1])
            anchor = tt[peak] if peak is not None else start + self.push_off_fraction * duration
            s = np.where(tt < anchor, s0 + (1.0 - s0) * (tt - start) / max(anchor - start, 1e-9),
                         1.0 + (self.rollover[1] - 1.0) * (tt - anchor) / max(end - anchor, 1e-9))
            cop[a:b + 1] = heel[a:b + 1] + np.clip(s, s0, self.rollover[1])[:, None] * axis[a:b + 1]
            gait[a:b + 1] = not (cut_start or cut_end)
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

    # --- 5. horizontal forces ---------------------------------------------------------------------
    def _horizontal(self, t, kin, vertical, share, cop, total, grounded, walking, floor) -> np.ndarray:
        """Horizontal forces (T, N, 2: x, z). On ``walking`` frames the feet are inverted pendulums (their
        force points from the COP at ``pivot_above_com`` above the centre of mass) and the momentum corrects
        their sum below ``horizontal_cutoff_hz``; elsewhere the momentum's horizontal force is shared."""
        out = np.zeros(vertical.shape + (2,))
        height = np.maximum(kin.com[:, None, 1] + self.pivot_above_com - floor, 0.2)
        lean = (kin.com[:, None, :] - cop) / height[..., None]
        for j, axis in enumerate((0, 2)):
            if axis in self.pendulum_axes:
                out[..., j] = np.where(walking[:, None], vertical * lean[:, :, axis], 0.0)
            correction = total[:, axis] - out[..., j].sum(axis=1)
            bridged = np.interp(t, t[grounded], correction[grounded]) if grounded.any() else correction
            used = np.where(walking, lowpass(bridged, kin.fps, self.horizontal_cutoff_hz[j]), correction)
            out[..., j] += share * np.where(grounded, used, 0.0)[:, None]
        return out

    # --- the estimate ---------------------------------------------------------------------------
    def _estimate(self, kin: BodyKinematics, sites) -> GroundReactions:
        t = kin.time
        n_sites = len(sites)
        contact, floor, floor_velocity, flags = self._contact(kin, sites)
        grounded = contact.any(axis=1)
        needed, moment = kin.external_wrench()
        bw = kin.body_weight
        vertical = self._vertical(t, needed[:, 1], grounded)
        total = np.where(grounded[:, None], needed, 0.0)
        total[:, 1] = vertical
        total_cop = wrench_cop(total, moment, floor, self.min_vertical_fraction * bw)
        alone = contact[:, :2] & ~np.roll(contact[:, :2], 1, axis=1) & ~contact[:, 2:].any(axis=1)[:, None]
        cop = np.stack([self._mid_foot(kin, site, floor) if site.kind == "foot" else self._limb_cop(kin, site, flags, floor)
                        for site in sites], axis=1)

        def foot_lever(start: int, end: int) -> np.ndarray:
            return np.stack([self._lever(cop[i, :2], contact[i, :2], total_cop[i]) for i in range(start, end + 1)])

        share = self._shares(t, contact, sites, cop, total_cop, foot_lever)
        gait = np.zeros((len(t), n_sites), bool)
        for k, site in enumerate(sites):
            if site.kind == "foot":
                cop[:, k], gait[:, k] = self._foot_cop(t, kin, site, contact[:, k], contact[:, 1 - k], flags, floor,
                                                       total_cop, alone[:, k], share[:, k] * vertical)
        # gait frames: every loaded site is a foot in a gait stance
        walking = grounded & np.all(gait | ~contact, axis=1)
        force = np.zeros((len(t), n_sites, 3))
        force[:, :, 1] = share * vertical[:, None]
        force[:, :, [0, 2]] = self._horizontal(t, kin, force[:, :, 1], share, cop, total, grounded, walking, floor)
        # the pendulum stays only where the motion agrees with it: where it leaves more of the momentum's
        # horizontal force unexplained than ``pendulum_tolerance``, the motion is not walking or running
        unexplained = np.linalg.norm((total - force.sum(axis=1))[:, [0, 2]], axis=1) / bw
        for a, b in _runs(walking):
            if np.sqrt(np.mean(unexplained[a:b + 1] ** 2)) > self.pendulum_tolerance:
                walking[a:b + 1] = False
        force[:, :, [0, 2]] = self._horizontal(t, kin, force[:, :, 1], share, cop, total, grounded, walking, floor)
        horizontal = np.hypot(force[..., 0], force[..., 2])
        limit = self.friction * force[..., 1]
        scale = np.where(horizontal > limit, limit / np.maximum(horizontal, 1e-12), 1.0)
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
                "floor_height_m": floor,
                "floor_velocity_m_s": [float(v) for v in floor_velocity[[0, 2]]],
                "flight_frames": int((~grounded).sum()),
                "contact_fraction": {s.label: float(contact[:, k].mean()) for k, s in enumerate(sites)},
                "residual_force_contact_rms_bw": float(np.sqrt(np.mean(np.sum(residual[grounded] ** 2, axis=1))) / bw)
                if grounded.any() else float("nan"),
                "residual_force_flight_rms_bw": float(np.sqrt(np.mean(np.sum(residual[~grounded] ** 2, axis=1))) / bw)
                if (~grounded).any() else 0.0,
                "dropped_moment_rms_Nm": float(np.sqrt(np.mean(np.sum(dropped ** 2, axis=1)))),
            })

