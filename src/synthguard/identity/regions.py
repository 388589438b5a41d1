"""Province-level administrative division codes (GB/T 2260), the first two digits of a
resident ID number's and a unified social credit code's region.

Only the two-digit province prefix is validated: the four digits below it (prefecture,
county) change with every redistricting, and an ID number keeps the code in force when
it was issued, so a current county table would reject real numbers. Province codes have
been stable since Chongqing (50) was created in 1997; people registered there before
kept their Sichuan (51) numbers, which stay valid.
"""

from __future__ import annotations

# The 31 mainland provinces, autonomous regions and municipalities.
PROVINCES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
}

# Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证, 2018)
# carry these fixed six-digit codes instead of a mainland region.
PERMIT_REGIONS: dict[str, str] = {"810000": "香港", "820000": "澳门", "830000": "台湾"}

# Central-level registering authorities put 100000 in a credit code's region field.
CENTRAL_REGION_PREFIX = "10"


def province_name(code: str) -> str | None:
    """The province named by a two-digit code, or None if the code is not assigned."""
    return PROVINCES.get(code)
