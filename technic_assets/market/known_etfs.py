"""Exchange-traded funds a bring-your-own data file cannot label itself: plain and leveraged/inverse.

Used to type the symbols of a Parquet or CSV source (which carries no security type); anything not
listed here is taken as a common stock.
"""

PLAIN_ETFS = frozenset("""
SPY QQQ IWM DIA VOO VTI IVV HYG LQD SHY TLT IEF VIXY VXX GLD SLV AGG TIP EEM EFA VEA VWO BND BNDX
XLK XLF XLE XLV XLY XLP XLI XLB XLU XLC XLRE MDY IJH IJR IWF IWD IWB IWN IWO RSP SCHD VIG VYM DVY
SMH SOXX XBI IBB KRE KBE XOP XME GDX GDXJ USO UNG EMB JNK MUB SHV BIL VNQ IYR ITB XHB ARKK
""".split())

LEVERAGED_ETFS = frozenset("""
TQQQ SQQQ QLD QID PSQ SPXL SPXS UPRO SPXU SSO SDS SH TNA TZA RWM DOG DXD SDOW UDOW UVXY SVXY TVIX
TMF TMV TBT UBT SOXL SOXS FAS FAZ ERX ERY LABU LABD NUGT DUST JNUG JDST UCO SCO BOIL KOLD TECL TECS
YINN YANG FNGU FNGD
""".split())
