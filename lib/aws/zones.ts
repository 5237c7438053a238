/**
 * The network stack's two Availability Zones, chosen by zone ID. Zone names (us-east-1a …)
 * map to different physical zones in each account, and MSK refuses client subnets in some
 * zones (use1-az3: "Client subnets can't occupy the Availability Zone with ID use1-az3",
 * MSK's BrokerNodeGroupInfo), so `!GetAZs` could pick a zone the cluster cannot use. deploy
 * asks `DescribeAvailabilityZones`, takes the two lowest zone IDs MSK accepts and passes
 * their names to the network stack; an existing network keeps its zones.
 * @module
 */
import { DescribeAvailabilityZonesCommand, EC2Client } from "../deps/aws_ec2.ts";
import type { AvailabilityZone } from "../deps/aws_ec2.ts";

/** Zone IDs MSK refuses client subnets in, per region (MSK's BrokerNodeGroupInfo). */
export const MSK_REFUSED_ZONE_IDS: Readonly<Record<string, readonly string[]>> = {
  "us-east-1": ["use1-az3"],
};

/** Two zones: names (what the subnets take) and zone IDs (the same in every account). */
export interface ZonePick {
  names: [string, string];
  ids: [string, string];
}

/** The zone-ID stem of `region`: us-east-1 -> use1, ap-northeast-1 -> apne1, eu-central-2 -> euc2. */
export function zoneIdStem(region: string): string {
  const [area, ...rest] = region.split("-");
  const num = rest.pop() ?? "";
  const words = rest.join("-").replace(/(north|south)(east|west)/, "$1-$2").split("-");
  return `${area}${words.map((w) => w[0]).join("")}${num}`;
}

/**
 * What a plan without AWS can say about the zones of `region`: the two lowest zone IDs MSK
 * takes, when the account has them.
 */
export function expectedZoneIds(region: string): [string, string] {
  const refused = MSK_REFUSED_ZONE_IDS[region] ?? [];
  const stem = zoneIdStem(region);
  const ids: string[] = [];
  for (let n = 1; ids.length < 2; n++) {
    if (!refused.includes(`${stem}-az${n}`)) ids.push(`${stem}-az${n}`);
  }
  return [ids[0], ids[1]];
}

/**
 * The two zones of `zones` with the lowest zone IDs that are available, ordinary zones (no
 * Local or Wavelength Zones) and not refused by MSK in `region`. Throws when fewer than two.
 */
export function pickZones(zones: AvailabilityZone[], region: string): ZonePick {
  const refused = MSK_REFUSED_ZONE_IDS[region] ?? [];
  const usable = zones
    .filter((z) => z.ZoneName && z.ZoneId && z.State === "available")
    .filter((z) => (z.ZoneType ?? "availability-zone") === "availability-zone")
    .filter((z) => !refused.includes(z.ZoneId!))
    .sort((a, b) => a.ZoneId!.localeCompare(b.ZoneId!, "en", { numeric: true }));
  if (usable.length < 2) {
    throw new Error(
      `Cannot choose two Availability Zones in "${region}": ${usable.length} usable of ${zones.length} (MSK refuses ${
        refused.join(", ") || "none here"
      })`,
    );
  }
  return {
    names: [usable[0].ZoneName!, usable[1].ZoneName!],
    ids: [usable[0].ZoneId!, usable[1].ZoneId!],
  };
}

/**
 * The two zones `!GetAZs` gave a network stack made before deploy chose zones: the first two
 * available zone names in name order. Passing them keeps its subnets where they are.
 */
export function legacyZones(zones: AvailabilityZone[]): [string, string] | undefined {
  const names = zones
    .filter((z) => z.ZoneName && z.State === "available")
    .filter((z) => (z.ZoneType ?? "availability-zone") === "availability-zone")
    .map((z) => z.ZoneName!)
    .sort();
  return names.length >= 2 ? [names[0], names[1]] : undefined;
}

/** The region's Availability Zones (DescribeAvailabilityZones, opted-in zones only). */
export async function describeZones(ec2: EC2Client, region: string): Promise<AvailabilityZone[]> {
  try {
    const out = await ec2.send(new DescribeAvailabilityZonesCommand({}));
    return out.AvailabilityZones ?? [];
  } catch (err) {
    throw new Error(`Cannot list the Availability Zones of "${region}"`, { cause: err });
  }
}
