"""Reference values for controller/src/stats tests, computed with scipy.

Run: python3 test/stats-reference/reference.py   (scipy >= 1.11; the committed
values came from scipy 1.17.1). The tests embed these numbers next to the same
inputs; nothing here runs in `make test`.
"""
import json
import math

import numpy as np
from scipy import integrate, optimize, stats

out = {"scipy": __import__("scipy").__version__}

# Two-proportion z-test: Pearson chi-squared of the 2x2 table without
# continuity correction has p-value equal to the pooled two-sided z-test, z^2 = chi2.
def two_prop(xs, ns, xc, nc, alpha=0.05):
    chi2, p, _, _ = stats.chi2_contingency([[xs, ns - xs], [xc, nc - xc]], correction=False)
    ps, pc = xs / ns, xc / nc
    z = math.copysign(math.sqrt(chi2), pc - ps)
    se = math.sqrt(ps * (1 - ps) / ns + pc * (1 - pc) / nc)
    q = stats.norm.ppf(1 - alpha / 2)
    return {"z": z, "p": p, "ci": [pc - ps - q * se, pc - ps + q * se]}

out["two_prop_a"] = two_prop(480, 1000, 530, 1000)
out["two_prop_b"] = two_prop(1200, 5000, 1100, 4800, alpha=0.01)

# Welch: scipy's ttest_ind_from_stats with equal_var=False, canary first.
def welch(ms, ss, ns, mc, sc, nc, alpha=0.05):
    r = stats.ttest_ind_from_stats(mc, sc, nc, ms, ss, ns, equal_var=False)
    vs, vc = ss**2 / ns, sc**2 / nc
    df = (vs + vc) ** 2 / (vs**2 / (ns - 1) + vc**2 / (nc - 1))
    q = stats.t.ppf(1 - alpha / 2, df)
    d = mc - ms
    return {"t": float(r.statistic), "p": float(r.pvalue), "df": df, "ci": [d - q * math.sqrt(vs + vc), d + q * math.sqrt(vs + vc)]}

out["welch_a"] = welch(0.150, 0.030, 200, 0.158, 0.041, 180)
out["welch_b"] = welch(12.5, 4.0, 35, 10.9, 6.5, 20, alpha=0.1)

# Mann-Whitney from histograms: one value per bucket (its index), so each bucket is one tie group.
def mw(stable_cum, canary_cum):
    s = np.diff([0] + stable_cum)
    c = np.diff([0] + canary_cum)
    xs = np.repeat(np.arange(len(s)), s)
    xc = np.repeat(np.arange(len(c)), c)
    r = stats.mannwhitneyu(xc, xs, use_continuity=True, alternative="two-sided", method="asymptotic")
    return {"u": float(r.statistic), "p": float(r.pvalue)}

out["mw_a"] = mw([10, 40, 90, 140, 190, 200], [5, 25, 60, 110, 170, 200])
out["mw_b"] = mw([300, 700, 900, 980, 1000], [250, 640, 880, 975, 1000])
# A histogram comparison's resolution (engine/comparisons.test.ts): buckets le 0.5, 1, 5, 10, +Inf ms,
# and the same with the buckets up to 5 merged (the resolution 5), so values below 5 ms tie.
out["mw_fine"] = mw([20, 180, 390, 398, 400], [0, 4, 38, 40, 40])
out["mw_merged"] = mw([390, 398, 400], [38, 40, 40])

# Chi-squared independence, k x 2, no correction.
def chi(stable, canary):
    chi2, p, dof, _ = stats.chi2_contingency(np.array([stable, canary]).T, correction=False)
    return {"chi2": chi2, "p": p, "df": int(dof)}

out["chi_a"] = chi([30, 50, 20], [45, 40, 15])
# A class never seen is dropped (scipy refuses zero expected counts): weir on
# [120, 80, 0, 40] vs [100, 95, 0, 55] must equal scipy on the table without it.
out["chi_b"] = chi([120, 80, 40], [100, 95, 55])

# mSPRT closed form (Johari et al. 2017) over a sequence of looks.
def msprt(looks, tau, alpha=0.05):
    p, lo, hi, res = 1.0, -math.inf, math.inf, []
    for d, v in looks:
        t2 = tau * tau
        lam = math.sqrt(v / (v + t2)) * math.exp(t2 * d * d / (2 * v * (v + t2)))
        p = min(p, 1 / lam)
        half = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + math.log((v + t2) / v)))
        lo, hi = max(lo, d - half), min(hi, d + half)
        res.append({"lambda": lam, "p": min(p, 1.0), "ci": [lo, hi]})
    return res

out["msprt"] = msprt([(0.02, 0.0004), (0.03, 0.0002), (0.025, 0.0001), (0.026, 0.00005)], tau=0.02)

# Lan-DeMets boundaries, found with scipy's multivariate normal CDF and brentq:
# Z_k at information t_k has corr(Z_i, Z_j) = sqrt(t_i / t_j).
def spend(kind, alpha, t):
    if kind == "obf":
        return 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(t))
    return alpha * math.log(1 + (math.e - 1) * t)

def rect_prob(bounds, cov):
    # P(|Z_i| < b_i for all i) by inclusion-exclusion over the 2^k corners.
    k = len(bounds)
    mvn = stats.multivariate_normal(mean=np.zeros(k), cov=cov)
    total = 0.0
    for mask in range(1 << k):
        corner = [bounds[i] if mask >> i & 1 else -bounds[i] for i in range(k)]
        sign = (-1) ** (k - bin(mask).count("1"))
        total += sign * mvn.cdf(np.array(corner))
    return total

def boundaries(kind, alpha, ts):
    bs = []
    for k, t in enumerate(ts):
        cov = np.array([[math.sqrt(min(a, b) / max(a, b)) for b in ts[: k + 1]] for a in ts[: k + 1]])
        target = 1 - spend(kind, alpha, t)  # P(no crossing up to look k)
        f = lambda c: rect_prob(bs + [c], cov) - target
        bs.append(optimize.brentq(f, 0.5, 12, xtol=1e-10))
    return bs

out["ld_obf_3"] = boundaries("obf", 0.05, [1 / 3, 2 / 3, 1.0])
out["ld_pocock_3"] = boundaries("pocock", 0.05, [1 / 3, 2 / 3, 1.0])
out["ld_obf_uneven"] = boundaries("obf", 0.05, [0.2, 0.5, 0.9])

# Sample sizes: Fleiss eq. 3.14 (R power.prop.test), and the normal two-mean formula.
def n_prop(p1, mde, alpha=0.05, power=0.8):
    p2 = p1 + mde
    pb = (p1 + p2) / 2
    a = stats.norm.ppf(1 - alpha / 2) * math.sqrt(2 * pb * (1 - pb))
    b = stats.norm.ppf(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return (a + b) ** 2 / mde**2

out["n_prop_055_005"] = n_prop(0.55, 0.05)
out["n_prop_050_025_p90"] = n_prop(0.50, 0.25, power=0.9)
out["n_prop_002_m0005_a01_p95"] = n_prop(0.02, -0.005, alpha=0.01, power=0.95)
out["n_mean"] = 2 * 10**2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / 5**2
out["n_mean_b"] = 2 * 0.04**2 * (stats.norm.ppf(0.995) + stats.norm.ppf(0.9)) ** 2 / 0.01**2

# Probability to beat: numerical integral of the posterior densities.
def p_beat(xs, ns, xc, nc):
    a_s, b_s, a_c, b_c = 1 + xs, 1 + ns - xs, 1 + xc, 1 + nc - xc
    f = lambda x: stats.beta.pdf(x, a_c, b_c) * stats.beta.cdf(x, a_s, b_s)
    lo = min(stats.beta.ppf(1e-12, a_c, b_c), stats.beta.ppf(1e-12, a_s, b_s))
    hi = max(stats.beta.ppf(1 - 1e-12, a_c, b_c), stats.beta.ppf(1 - 1e-12, a_s, b_s))
    return integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=500)[0]

out["p_beat_a"] = p_beat(48, 100, 56, 100)
out["p_beat_b"] = p_beat(1080, 2000, 1240, 2000)
out["p_beat_c"] = p_beat(10, 20, 9, 20)

# Business impact arithmetic with the normal quantile.
out["z975"] = stats.norm.ppf(0.975)

print(json.dumps(out, indent=1))

# New inputs for the CLI acceptance test (test/cli/analyst-cli.test.ts).
cli = {}
cli["proportion"] = two_prop(230, 1000, 270, 1000)
cli["mean"] = welch(2.3, 0.9, 150, 2.55, 1.1, 140)
cli["histogram"] = mw([40, 90, 140, 150], [30, 70, 120, 150])
cli["n_prop"] = n_prop(0.10, 0.02)
cli["n_mean"] = 2 * 2.0**2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / 0.5**2
print(json.dumps({"cli": cli}, indent=1))

# Correlation across analysis windows (controller/src/stats/correlation.test.ts):
# Pearson with scipy's Fisher-z confidence interval, and Spearman (average ranks for ties).
corr = {}
for key, x, y, level in [
    ("a", [0.52, 0.55, 0.49, 0.58, 0.61, 0.50, 0.47, 0.56, 0.60, 0.53, 0.57, 0.51],
          [0.010, 0.018, -0.004, 0.022, 0.031, 0.002, -0.009, 0.015, 0.027, 0.008, 0.020, 0.001], 0.95),
    ("b", [1, 2, 2, 3, 4, 5, 5, 6], [3.1, 2.0, 4.4, 3.3, 2.9, 4.0, 3.6, 3.8], 0.90),
]:
    r = stats.pearsonr(x, y)
    ci = r.confidence_interval(level)
    s = stats.spearmanr(x, y)
    corr[key] = {"r": r.statistic, "p": r.pvalue, "ci": [ci.low, ci.high], "rho": s.statistic, "rho_p": s.pvalue}
print(json.dumps({"correlation": corr}, indent=1))

# Paired tests for shadow traffic, where canary and stable answer the same requests
# (controller/src/stats/mcnemar.test.ts and paired-mean.test.ts).
# McNemar: b = pairs only the canary got right, c = pairs only stable got right, of n.
# Tables are [[both right, stable only], [canary only, both wrong]]: rows stable,
# columns canary. The chi-squared (no continuity correction) and exact binomial
# p-values are statsmodels' mcnemar when statsmodels is importable, otherwise the
# same formulas with scipy (chi2.sf; binomtest, two-sided, at 0.5); with statsmodels
# both are computed and must agree. The committed McNemar values came from
# statsmodels 0.13.5 (Debian's python3-statsmodels, run with /usr/bin/python3 and
# its scipy 1.10.1); scipy 1.17.1 without statsmodels gives the same to ~1e-14.
# The difference p_canary - p_stable = (b - c)/n has the Wald variance
# ((b + c)/n - ((b - c)/n)^2)/n, Agresti, CDA (2nd ed.), section 10.1.
try:
    import statsmodels
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
except ImportError:
    statsmodels = sm_mcnemar = None

def paired_prop(table, alpha=0.05):
    (_, c), (b, _) = table
    n = sum(map(sum, table))
    d = (b - c) / n
    var = ((b + c) / n - d * d) / n
    z = d / math.sqrt(var) if var > 0 else (0.0 if d == 0 else math.copysign(math.inf, d))
    q = stats.norm.ppf(1 - alpha / 2)
    res = {"n": n, "b": b, "c": c, "difference": d, "variance": var, "z": z,
           "p": float(2 * stats.norm.sf(abs(z))), "ci": [d - q * math.sqrt(var), d + q * math.sqrt(var)]}
    if b + c == 0:
        return {**res, "statistic": 0.0, "mcnemar_p": 1.0, "exact_p": 1.0, "source": "edge"}
    chi2 = (b - c) ** 2 / (b + c)
    scipy_p = (float(stats.chi2.sf(chi2, 1)), float(stats.binomtest(b, b + c, 0.5).pvalue))
    res.update(statistic=chi2, mcnemar_p=scipy_p[0], exact_p=scipy_p[1], source="scipy")
    if sm_mcnemar is not None:
        asymptotic = sm_mcnemar(table, exact=False, correction=False)
        exact = sm_mcnemar(table, exact=True)
        assert math.isclose(asymptotic.statistic, chi2, rel_tol=1e-13)
        assert math.isclose(asymptotic.pvalue, scipy_p[0], rel_tol=1e-12)
        assert math.isclose(exact.pvalue, scipy_p[1], rel_tol=1e-12)
        res.update(statistic=float(asymptotic.statistic), mcnemar_p=float(asymptotic.pvalue),
                   exact_p=float(exact.pvalue), source="statsmodels " + statsmodels.__version__)
    return res

paired = {"scipy": __import__("scipy").__version__}
# Agresti, CDA (2nd ed.), Table 10.1: the same 1600 people asked twice whether they
# approve; first survey = stable, second = canary. Agresti: z = -4.17 and the 95%
# Wald interval -0.04 +/- 1.96(0.0095) = (-0.06, -0.02).
paired["mcnemar_agresti"] = paired_prop([[794, 150], [86, 570]])
paired["mcnemar_b"] = paired_prop([[14210, 530], [612, 4648]], alpha=0.01)
paired["mcnemar_small"] = paired_prop([[25, 2], [7, 6]])
paired["mcnemar_one_way"] = paired_prop([[0, 0], [10, 0]])
paired["mcnemar_none"] = paired_prop([[30, 0], [0, 20]])

# Paired t: scipy's ttest_rel(canary, stable) and its confidence_interval(1 - alpha).
def paired_mean(canary, stable, alpha=0.05):
    r = stats.ttest_rel(canary, stable)
    ci = r.confidence_interval(1 - alpha)
    d = np.subtract(canary, stable)
    return {"n": len(d), "mean": float(d.mean()), "sd": float(d.std(ddof=1)), "t": float(r.statistic),
            "df": float(r.df), "p": float(r.pvalue), "ci": [float(ci.low), float(ci.high)]}

# Student (1908), Biometrika 6:1-25, via R's datasets::sleep: extra hours of sleep
# with drug 1 (stable) and drug 2 (canary) in the same 10 patients.
# R's t.test(paired = TRUE): t = 4.0621, df = 9, p = 0.002833, CI (0.7001142, 2.4598858).
paired["paired_sleep"] = paired_mean([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4],
                                     [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
paired["paired_latency"] = paired_mean(
    [41.2, 38.9, 52.3, 47.0, 39.8, 44.1, 60.5, 35.7, 42.8, 49.9, 37.4, 45.6],
    [40.1, 39.5, 50.2, 45.8, 40.3, 42.0, 58.9, 35.9, 41.1, 48.2, 36.8, 44.0], alpha=0.1)
paired["paired_two"] = paired_mean([0.91, 0.87], [0.88, 0.86])
print(json.dumps({"paired": paired}, indent=1))

# Sample-ratio mismatch (controller/src/stats/sample-ratio.test.ts): scipy's
# chisquare goodness of fit; multi-period expected counts are each period's total
# split by its own weights, summed per version (GrowthBook's multi-period SRM).
def gof(observed, expected):
    r = stats.chisquare(observed, expected)
    return {"chi2": float(r.statistic), "p": float(r.pvalue)}

srm = {"scipy": __import__("scipy").__version__}
srm["even"] = gof([480, 520], [500, 500])
srm["canary_10"] = gof([9100, 880], np.array([0.9, 0.1]) * 9980)
srm["three_way"] = gof([3300, 3300, 3600], np.array([1, 1, 1]) / 3 * 10200)
srm["tiny_p"] = gof([820, 180], [900, 100])
# Two periods: 1000 requests at 90/10 (905, 95), then 2000 at 75/25 (1490, 510).
srm["periods"] = gof([905 + 1490, 95 + 510], [0.9 * 1000 + 0.75 * 2000, 0.1 * 1000 + 0.25 * 2000])
# The same counts judged against the last period's weights alone (the mistake the pooling avoids).
srm["periods_naive"] = gof([2395, 605], np.array([0.75, 0.25]) * 3000)
print(json.dumps({"srm": srm}, indent=1))

# Bandits (controller/src/stats/bandit.test.ts): P(best) by quad of
# f_i(x) * prod_{j != i} F_j(x), and Evan Miller's closed form for two Beta arms
# (https://www.evanmiller.org/bayesian-ab-testing.html, integer alpha_B).
def p_best(dist, params):
    res = []
    for i, p in enumerate(params):
        lo, hi = (0, 1) if dist is stats.beta else (p[0] - 15 * p[1], p[0] + 15 * p[1])
        f = lambda x: dist.pdf(x, *p) * np.prod([dist.cdf(x, *q) for j, q in enumerate(params) if j != i])
        res.append(integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=500)[0])
    return res

def miller(a_a, b_a, a_b, b_b):
    from scipy.special import betaln
    return float(sum(math.exp(betaln(a_a + i, b_a + b_b) - math.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a))
                     for i in range(a_b)))

bandit = {"scipy": __import__("scipy").__version__}
bandit["beta2"] = p_best(stats.beta, [(101, 901), (121, 881)])
bandit["beta2_miller"] = miller(101, 901, 121, 881)
bandit["beta3"] = p_best(stats.beta, [(41, 61), (51, 51), (46, 56)])
bandit["beta3_narrow"] = p_best(stats.beta, [(9001, 1001), (9051, 951), (8990, 1012)])
bandit["normal3"] = p_best(stats.norm, [(1.0, 0.1), (1.1, 0.05), (0.95, 0.2)])
bandit["normal2_closed"] = float(stats.norm.cdf((1.1 - 1.0) / math.sqrt(0.1 ** 2 + 0.05 ** 2)))
print(json.dumps({"bandit": bandit}, indent=1))
